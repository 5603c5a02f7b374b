"""The baseline server of the benchmarks: a bare ASGI app on the same stack as ``greenroom serve``.

It answers every HTTP request with one fixed JSON body (by default a DescribeStream-shaped
document; ``--body-file`` replays greenroom's own answer byte for byte), after reading the
request body as greenroom does. Socket, uvicorn settings and startup line are those of
``greenroom.cli.serve``: bind first, ``listen(2048)``, print
``... listening on http://HOST:PORT (...)``, then ``uvicorn.Config(app, log_level="warning",
access_log=False, lifespan="on")`` with uvicorn's default loop/http ("auto": uvloop and
httptools when installed, as they are with ``uvicorn[standard]``).

    python bench/_bareapp.py [--host 127.0.0.1] [--port 0] [--body-file F]

Not a benchmark on its own; bench_server.py and bench_startup.py start it in a subprocess.
"""
from __future__ import annotations

import argparse
import socket
import sys

DEFAULT_BODY = (
    b'{"StreamInfo": {"StreamName": "bench-stream", "StreamARN": "arn:aws:kinesisvideo:us-east-1:'
    b'000000000000:stream/bench-stream/1700000000000", "Version": "abcdefghijklmnopqrst", '
    b'"Status": "ACTIVE", "CreationTime": 1700000000.0, "DataRetentionInHours": 24}}'
)


def make_app(body: bytes):
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-requestid", b"00000000-0000-4000-8000-000000000000"),
        (b"content-length", str(len(body)).encode()),
    ]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    payload = {"type": "http.response.body", "body": body}

    async def app(scope, receive, send):
        if scope["type"] == "http":
            while True:
                message = await receive()
                if not message.get("more_body"):
                    break
            await send(start)
            await send(payload)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    return app


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="bare ASGI baseline server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--body-file")
    args = parser.parse_args(argv)

    import uvicorn

    body = DEFAULT_BODY
    if args.body_file:
        with open(args.body_file, "rb") as file:
            body = file.read()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(2048)
    port = listener.getsockname()[1]
    print(f"bare listening on http://{args.host}:{port} (fixed body, {len(body)} bytes)", flush=True)
    config = uvicorn.Config(make_app(body), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(main())
