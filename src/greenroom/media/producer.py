"""A Python PutMedia producer: streams an MKV body to ``{endpoint}/putMedia`` with chunked
transfer encoding and SigV4 (botocore's signer), reading the acknowledgements as they come back
on the same connection (which is why it speaks HTTP/1.1 itself: Python's HTTP clients send the
whole body before they read a response).

    from greenroom.media.producer import put_media_file
    result = put_media_file("http://127.0.0.1:4580", "camera-1", "clip.mp4", on_ack=print)

[inferred] The payload is signed as UNSIGNED-PAYLOAD (a live body has no hash up front).
"""
from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import urlsplit

READ_LIMIT = 1 << 16


class PutMediaError(Exception):
    """PutMedia was refused before any acknowledgement (an HTTP error)."""

    def __init__(self, status: int, error_type: str, message: str):
        super().__init__(f"PutMedia failed with HTTP {status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass
class PutMediaResult:
    acks: list[dict] = field(default_factory=list)
    bytes_sent: int = 0
    seconds: float = 0.0

    def of_type(self, event_type: str) -> list[dict]:
        return [ack for ack in self.acks if ack.get("EventType") == event_type]

    @property
    def errors(self) -> list[dict]:
        return self.of_type("ERROR")


def _credentials(access_key: str | None, secret_key: str | None, session_token: str | None):
    import botocore.credentials
    import botocore.session

    if access_key and secret_key:
        return botocore.credentials.Credentials(access_key, secret_key, session_token)
    found = botocore.session.get_session().get_credentials()
    if found is None:
        # greenroom checks no signature: any key will do (its account comes from a 12-digit key).
        return botocore.credentials.Credentials("greenroomproducer", "greenroomproducer")
    return found


def signed_headers(endpoint: str, headers: dict[str, str], *, region: str, credentials) -> dict[str, str]:
    """SigV4 (service ``kinesisvideo``) headers for a PutMedia request to ``endpoint``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="POST", url=endpoint.rstrip("/") + "/putMedia",
                         headers={**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(credentials, "kinesisvideo", region).add_auth(request)
    return dict(request.headers.items())


def put_media_headers(stream_name: str | None, stream_arn: str | None, timecode_type: str,
                      producer_start_ms: int | None, ack_required: bool) -> dict[str, str]:
    """The x-amzn-* headers that describe a PutMedia request."""
    headers = {"x-amzn-fragment-timecode-type": timecode_type,
               "x-amzn-fragment-acknowledgment-required": "1" if ack_required else "0"}
    if stream_name:
        headers["x-amzn-stream-name"] = stream_name
    if stream_arn:
        headers["x-amzn-stream-arn"] = stream_arn
    if producer_start_ms is not None:
        headers["x-amzn-producer-start-timestamp"] = f"{producer_start_ms // 1000}.{producer_start_ms % 1000:03d}"
    return headers


async def put_media_stream(endpoint: str, body, *, stream_name: str | None = None,
                           stream_arn: str | None = None, timecode_type: str = "RELATIVE",
                           producer_start_ms: int | None = None, ack_required: bool = True,
                           region: str = "us-east-1", access_key: str | None = None,
                           secret_key: str | None = None, session_token: str | None = None,
                           on_ack: Callable[[dict], None] | None = None,
                           stop_on_error: bool = True, extra_headers: dict | None = None) -> PutMediaResult:
    """Send ``body`` (an iterable or async iterable of bytes) as one PutMedia request; return
    every acknowledgement. Raises PutMediaError when the request is refused outright."""
    parts = urlsplit(endpoint)
    secure = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    headers = {"Host": parts.netloc, "Transfer-Encoding": "chunked", "Connection": "close",
               "User-Agent": "greenroom-kvs-producer",
               **put_media_headers(stream_name, stream_arn, timecode_type, producer_start_ms, ack_required),
               **(extra_headers or {})}
    headers = signed_headers(endpoint, headers, region=region,
                             credentials=_credentials(access_key, secret_key, session_token))
    connection = await _Connection.open(host, port, secure)
    head = "POST /putMedia HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    result = PutMediaResult()
    started = time.perf_counter()
    errored = asyncio.Event()

    async def send(data: bytes) -> bool:
        """False once the server has ended the exchange (its answer says why)."""
        try:
            await connection.send(data)
            return True
        except (ConnectionError, OSError):
            return False

    async def send_body():
        # An error of the body itself (an unreadable file, say) is raised: it ends the upload.
        if not await send(head.encode("latin-1")):
            return
        async for piece in _pieces(body):
            if errored.is_set() or not await _write_chunk(send, piece, result):
                return
        await send(b"0\r\n\r\n")

    sender = asyncio.create_task(send_body())
    reader = asyncio.create_task(_read_acknowledgements(connection, result, on_ack, stop_on_error, errored))
    try:
        while not reader.done():
            await asyncio.wait([task for task in (sender, reader) if not task.done()],
                               return_when=asyncio.FIRST_COMPLETED)
            if sender.done() and not sender.cancelled() and sender.exception() is not None:
                raise sender.exception()
        reader.result()
    finally:
        errored.set()
        for task in (sender, reader):
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass  # its outcome was taken above, or it no longer matters
        connection.close()
        result.seconds = time.perf_counter() - started
    return result


async def _pieces(body):
    if hasattr(body, "__aiter__"):
        async for piece in body:
            yield piece
    else:
        for piece in body:
            yield piece
            await asyncio.sleep(0)  # let acknowledgements in between


async def _read_acknowledgements(connection, result: PutMediaResult, on_ack, stop_on_error: bool,
                                 errored: asyncio.Event) -> None:
    status, response_headers = await _read_head(connection)
    while status == 100:  # "100 Continue" (an answer to Expect: 100-continue), then the real one
        status, response_headers = await _read_head(connection)
    if status != 200:
        payload = await _read_body(connection, response_headers)
        try:
            document = json.loads(payload or b"{}")
        except ValueError:
            document = {}
        raise PutMediaError(status, response_headers.get("x-amzn-errortype", ""),
                            document.get("Message") or document.get("message") or payload.decode(errors="replace"))
    decoder = json.JSONDecoder()
    pending = ""
    async for chunk in _chunks(connection, response_headers):
        pending += chunk.decode("utf-8")
        while True:
            pending = pending.lstrip()
            if not pending:
                break
            try:
                ack, used = decoder.raw_decode(pending)
            except ValueError:
                break  # an acknowledgement split across chunks
            pending = pending[used:]
            result.acks.append(ack)
            if on_ack is not None:
                on_ack(ack)
            if ack.get("EventType") == "ERROR" and stop_on_error:
                errored.set()


class _Connection:
    """A socket whose sending side may fail (the server answered and closed) without losing what
    it already received: asyncio's streams poison reading once writing fails."""

    def __init__(self, sock, tls=None):
        self.sock = sock
        self.tls = tls
        self.buffer = bytearray()
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, host: str, port: int, secure: bool) -> "_Connection":
        import socket
        if secure:
            # TLS needs asyncio's transport; a refused upload there is reported less gracefully.
            reader, writer = await asyncio.open_connection(host, port, ssl=_tls_context(),
                                                           limit=READ_LIMIT)
            return _TlsConnection(reader, writer)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, protocol, _, address = infos[0]
        sock = socket.socket(family, kind, protocol)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(sock, address)
        return cls(sock)

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def _fill(self) -> bool:
        data = await self.loop.sock_recv(self.sock, READ_LIMIT)
        self.buffer += data
        return bool(data)

    async def readline(self) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            if not await self._fill():
                line, self.buffer = bytes(self.buffer), bytearray()
                return line
        line = bytes(self.buffer[:end + 1])
        del self.buffer[:end + 1]
        return line

    async def readexactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not await self._fill():
                raise ConnectionError("the server closed the connection mid-answer")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    async def read(self) -> bytes:
        while await self._fill():
            pass
        data, self.buffer = bytes(self.buffer), bytearray()
        return data

    def close(self) -> None:
        self.sock.close()


def _tls_context() -> ssl.SSLContext:
    """Python's defaults (SSL_CERT_FILE included) and the CA bundle AWS_CA_BUNDLE names, which
    botocore and the AWS CLI trust: one variable serves the control and the data plane."""
    import os

    context = ssl.create_default_context()
    if os.environ.get("AWS_CA_BUNDLE"):
        context.load_verify_locations(cafile=os.environ["AWS_CA_BUNDLE"])
    return context


class _TlsConnection(_Connection):
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def readline(self) -> bytes:
        return await self.reader.readline()

    async def readexactly(self, count: int) -> bytes:
        return await self.reader.readexactly(count)

    async def read(self) -> bytes:
        return await self.reader.read()

    def close(self) -> None:
        self.writer.close()


async def _write_chunk(send, piece: bytes, result: PutMediaResult) -> bool:
    if not piece:
        return True
    if len(piece) < 65536:  # one send for small pieces; no copy of big ones
        sent = await send(b"%x\r\n" % len(piece) + piece + b"\r\n")
    else:
        sent = await send(b"%x\r\n" % len(piece)) and await send(piece) and await send(b"\r\n")
    if sent:
        result.bytes_sent += len(piece)
    return sent


async def _read_head(reader) -> tuple[int, dict[str, str]]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _chunks(reader, headers: dict[str, str]):
    if "chunked" not in headers.get("transfer-encoding", "").lower():
        length = headers.get("content-length")
        yield await (reader.readexactly(int(length)) if length is not None else reader.read())
        return
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size)
        await reader.readline()
        yield data


async def _read_body(reader, headers: dict[str, str]) -> bytes:
    return b"".join([chunk async for chunk in _chunks(reader, headers)])


class MediaFileError(ValueError):
    """A file that cannot be streamed; the message is one line naming it."""


def check_media_file(path) -> None:
    """Raise MediaFileError unless ``path`` is a file PyAV opens with a video or audio stream:
    checked before anything is sent, so a wrong path fails at once."""
    import os

    if not os.path.exists(path):
        raise MediaFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise MediaFileError(f"{path}: is a directory, not a media file")
    if not os.access(path, os.R_OK):
        raise MediaFileError(f"{path}: not readable")
    import av

    try:
        with av.open(str(path)) as probe:
            if not probe.streams.video and not probe.streams.audio:
                raise MediaFileError(f"{path}: has no video or audio stream")
    except av.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MediaFileError(f"{path}: not a media file ({reason})") from None


def put_media_bytes(endpoint: str, body: Iterable[bytes], **options) -> PutMediaResult:
    """``put_media_stream`` for synchronous callers."""
    return asyncio.run(put_media_stream(endpoint, body, **options))


def put_media_file(endpoint: str, stream_name: str, path, *, realtime: bool = False, loop: bool = False,
                   max_loops: int | None = None, audio: bool = True, **options) -> PutMediaResult:
    """Stream a media file PyAV can read through PutMedia (see ``media.source``), RELATIVE
    timecodes from now; ``realtime`` sends each frame when a live camera would."""
    from .source import paced_pieces, putmedia_body

    async def paced():
        started = time.monotonic()
        for due, piece in paced_pieces(path, loop=loop, max_loops=max_loops, audio=audio):
            delay = started + due / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            yield piece

    async def whole_fragments():
        for piece in putmedia_body(path, loop=loop, max_loops=max_loops, audio=audio):
            yield piece
            await asyncio.sleep(0)

    start_ms = int(time.time() * 1000)
    return asyncio.run(put_media_stream(endpoint, paced() if realtime else whole_fragments(),
                                        stream_name=stream_name, timecode_type="RELATIVE",
                                        producer_start_ms=start_ms, **options))
