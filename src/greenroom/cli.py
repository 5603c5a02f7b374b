"""greenroom: AWS's streaming-media services (IVS Real-Time, GameLift Streams, Nimble Studio,
Kinesis Video Streams) on your machine, wire-compatible with boto3 and the AWS CLI.

commands:
  serve          run the HTTP server (console at /_greenroom/console)
  logs           follow the request log of a running server, one JSON object a line
  ca-path        print the TLS CA certificate's file
  coverage       implemented vs total operations per service
  models-path    print a directory usable as AWS_DATA_PATH
  kvs put-media  stream a media file into a Kinesis Video stream
"""
from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import logging
import os
import sys
from pathlib import Path


class StartupError(Exception):
    """Why ``greenroom serve`` cannot start: one line naming the problem and the path/URL."""


def serve(args) -> int:
    """Run the server until Ctrl-C/SIGTERM (then exit 0 with one line); a start-up failure
    prints one line and exits non-zero, without a traceback."""
    # Start-up makes some 130,000 objects that live as long as the process, and little garbage
    # (under a thousand objects): the collector's passes over them while it imports and builds
    # (about 65 ms of a 0.45 s start) are left out; _serve freezes them and collects again.
    gc.disable()
    try:
        return _serve(args)
    except StartupError as error:
        print(f"greenroom: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while starting
        print("greenroom: interrupted while starting", file=sys.stderr)
        return 130
    finally:
        gc.enable()


def _serve(args) -> int:
    from . import listeners
    from .core import store
    from .core.objectstore import ObjectStore, ObjectStoreError
    from .core.public_url import PublicUrls, join
    from .core.signatures import CredentialsFileError
    from .core.stun import StunServer
    from .emulator import Emulator
    from .http_protocols import http_protocol_class
    from .server import GRACEFUL_SHUTDOWN_SECONDS, AccessLog, App

    logging.basicConfig(level=getattr(logging, args.log_level.upper()),
                        format="%(asctime)s %(name)s %(message)s")
    if args.verify_signatures and not args.credentials:
        print("greenroom: --verify-signatures needs --credentials FILE (the keys requests are signed with)",
              file=sys.stderr)
        return 2
    if not args.admin_token and not _is_loopback(args.host):
        print(f"greenroom: --host {args.host} is reachable from other machines: give --admin-token TOKEN "
              "to protect the admin API (/_greenroom/)", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir) if args.data_dir else store.default_data_dir()
    if args.ephemeral:
        db_url, where = None, "in memory (--ephemeral)"
    elif args.db_url:
        db_url, where = args.db_url, _without_password(args.db_url)
    else:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(data_dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as error:
            raise StartupError(f"cannot use the data directory {data_dir}: {error.strerror}") from None
        db_url, where = store.sqlite_url(data_dir), str(data_dir)
    try:
        public_urls = PublicUrls.configure(args.public_url, names=[args.host, *args.tls_name],
                                           trusted_proxies=args.trusted_proxy)
        tls_files, ca_file = _tls_files(args, data_dir)
    except ValueError as error:
        print(f"greenroom serve: {error}", file=sys.stderr)
        return 2
    try:
        objects = ObjectStore(Path(args.s3_dir) if args.s3_dir else data_dir / "s3", args.s3_endpoint_url)
        emulator = Emulator(db_url, default_account=args.account, seed=args.seed, public_urls=public_urls,
                            credentials=args.credentials if args.verify_signatures else None,
                            admin_token=args.admin_token, objects=objects)
    except (CredentialsFileError, ObjectStoreError) as error:
        print(f"greenroom: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the store cannot be opened: say which and why, in one line
        raise StartupError(f"cannot open the store at {where}: {_first_line(error)}") from None
    # The STUN server Kinesis Video's GetIceServerConfig hands out (UDP, same address).
    try:
        emulator.stun = StunServer(args.host, args.stun_port).start()
    except OSError as error:
        raise StartupError(f"cannot listen for STUN on UDP {args.host}:{args.stun_port}: {error.strerror or error}") from None
    # Bound before saying we listen (listeners.bind).
    main_tls = tls_files if args.tls else (None, None)
    bound = [listeners.Listener(_bind(listeners, args.host, args.port), *main_tls)]
    if args.tls_port is not None:
        bound.append(listeners.Listener(_bind(listeners, args.host, args.tls_port), *tls_files))
    urls = " and ".join(join(listener.scheme, args.host, listener.port) for listener in bound)
    print(f"greenroom listening on {urls} (state: {where}; S3 objects: {objects.describe()})", flush=True)
    if ca_file is not None:
        from .tls import spki_sha256
        print(f"greenroom TLS CA: {ca_file} (trust it with AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE "
              f"or AWS_KVS_CACERT_PATH; Chromium: --ignore-certificate-errors-spki-list={spki_sha256(ca_file)}; "
              f"`greenroom ca-path` prints it)", flush=True)
    access_log = AccessLog(json_lines=args.log_format == "json") if logging.getLogger("greenroom").isEnabledFor(logging.INFO) else None
    # What start-up made lives as long as the process: out of the collector's way (frozen), a
    # full collection scans only what requests made. It scanned everything (about 40 ms)
    # every hundred-odd requests that make a thousand objects each: a page of 1,000 fragments'
    # p99. Not collected first: start-up made little garbage, a collection would cost as much.
    gc.freeze()
    gc.enable()
    # proxy_headers off: X-Forwarded-* count only from --trusted-proxy peers (core.public_url).
    listeners.run(App(emulator, access_log), bound, log_level="warning", access_log=False, proxy_headers=False,
                  http=http_protocol_class(), timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    print("greenroom stopped", flush=True)
    return 0


def _bind(listeners, host: str, port: int):
    try:
        return listeners.bind(host, port)
    except OSError as error:
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``. [inferred] names other than localhost count
    as reachable from elsewhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _first_line(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _tls_files(args, data_dir: Path) -> tuple[tuple[Path, Path] | tuple[None, None], Path | None]:
    """((certificate chain, key), the CA file or None) for the TLS listener; ValueError if the
    options do not fit. Without --tls-cert the certificate is greenroom's own (greenroom.tls)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_cert and args.tls_port is None:
        args.tls = True  # your own certificate: TLS on --port
    if args.tls and args.tls_port is not None:
        raise ValueError("--tls makes --port HTTPS; --tls-port adds an HTTPS port beside a plain --port: give one")
    if not args.tls and args.tls_port is None:
        return (None, None), None
    if args.tls_cert:
        for path in (args.tls_cert, args.tls_key):
            if not Path(path).is_file():
                raise ValueError(f"no such file: {path}")
        return (Path(args.tls_cert), Path(args.tls_key)), None
    from . import tls
    names = [*args.tls_name] + ([args.host] if args.host not in ("0.0.0.0", "::", "") else [])
    return tls.server_files(data_dir, names), tls.ca_path(data_dir)


def ca_path(args) -> int:
    from . import tls
    from .core import store

    data_dir = Path(args.data_dir) if args.data_dir else store.default_data_dir()
    path = tls.ca_path(data_dir)
    print(tls.spki_sha256(path) if args.spki else path)
    return 0


def coverage(args) -> int:
    from .core.operations import coverage as operation_coverage
    from .services import load_all

    load_all()
    report = operation_coverage()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for service, entry in report.items():
        print(f"{service}: {entry['implemented']}/{entry['total']} operations")
        if entry["missing"] and not args.summary:
            print("  missing: " + ", ".join(entry["missing"]))
    implemented = sum(entry["implemented"] for entry in report.values())
    total = sum(entry["total"] for entry in report.values())
    print(f"total: {implemented}/{total}")
    return 0


def models_path(_args) -> int:
    from .protocol.models import MODELS_DIR

    print(MODELS_DIR)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="greenroom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"greenroom {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the HTTP server")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    run.add_argument("--port", type=int, default=4580,
                     help="port to listen on, 0 for a free one (printed); plain HTTP unless --tls (default: %(default)s)")
    run.add_argument("--stun-port", type=int, default=0, metavar="PORT",
                     help="UDP port of the STUN server handed out as an ICE server (default: a free one; "
                          "see /_greenroom/health)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="directory of the SQLite state and of the TLS CA "
                                          "(default: $XDG_DATA_HOME/greenroom; the CA stays there with "
                                          "--ephemeral/--db-url too)")
    where.add_argument("--ephemeral", action="store_true", help="keep state in memory only")
    where.add_argument("--db-url", help="database URL, e.g. postgresql://user@host/db")
    s3 = run.add_argument_group("S3 stand-in", "where greenroom writes what AWS would write to your S3 buckets "
                                "(IVS participant recordings...)")
    s3.add_argument("--s3-dir", metavar="DIR", help="objects as files at DIR/<bucket>/<key> (default: <data dir>/s3)")
    s3.add_argument("--s3-endpoint-url", metavar="URL",
                    help="write objects through boto3 to this S3-compatible endpoint instead (MinIO, moto, AWS)")
    run.add_argument("--account", default="000000000000",
                     help="account for access keys that are not 12-digit account ids (default: %(default)s)")
    run.add_argument("--seed", type=int, help="seed the id generators (reproducible ids; default: random)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                     help="info and debug write one access-log line per request on stderr (default: %(default)s)")
    run.add_argument("--log-format", default="text", choices=["text", "json"],
                     help="access-log lines as text, or one JSON object a line (time, service, operation, "
                          "status, duration_ms, error) (default: %(default)s)")
    tls = run.add_argument_group(
        "TLS", "HTTPS and WSS with a certificate greenroom makes, signed by a local CA made once and kept in "
               "<data dir>/tls/ca.pem (printed at start and by `greenroom ca-path`); trust that file once")
    tls.add_argument("--tls", action="store_true", help="serve HTTPS (and WSS) on --port instead of plain HTTP")
    tls.add_argument("--tls-port", type=int, metavar="PORT",
                     help="also serve HTTPS on PORT (0: a free one, printed) while --port stays plain HTTP")
    tls.add_argument("--tls-name", action="append", default=[], metavar="NAME",
                     help="another DNS name or IP address for the certificate, beside localhost, 127.0.0.1 "
                          "and ::1 (repeatable); also a name greenroom answers to in the URLs it hands out")
    tls.add_argument("--tls-cert", metavar="FILE", help="your own certificate (PEM, chain after it) instead of greenroom's")
    tls.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert (PEM)")
    run.add_argument("--public-url", metavar="URL",
                     help="base of every URL greenroom hands out (data/signaling endpoints, session and stream "
                          "URLs), e.g. https://kvs.local:4443; default: the scheme and host the caller used, "
                          "with the listener's port when Host has none")
    run.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                     help="an address or network (CIDR) of a reverse proxy whose X-Forwarded-Proto/-Host/-Port "
                          "headers are believed (repeatable); from anyone else they are ignored")
    run.add_argument("--admin-token", metavar="TOKEN",
                     help="require this token (Authorization: Bearer TOKEN) for admin API requests that change "
                          "state; needed to listen on an address other machines can reach")
    run.add_argument("--verify-signatures", action="store_true",
                     help="refuse AWS API requests whose SigV4 signature does not check out (needs --credentials)")
    run.add_argument("--credentials", metavar="FILE",
                     help='JSON list of {"accessKeyId", "secretAccessKey", "account", "sessionToken"?, '
                          '"expiration"?} for --verify-signatures')
    run.set_defaults(func=serve)

    authority = commands.add_parser("ca-path", help="print the TLS CA certificate's file (made if missing)",
                                    description="Print the file of the local CA that signs greenroom's HTTPS "
                                                "certificates, making the CA first if there is none.")
    authority.add_argument("--data-dir", help="the data directory (default: $XDG_DATA_HOME/greenroom)")
    authority.add_argument("--spki", action="store_true",
                           help="print the CA key's SHA-256 (base64) instead, for Chromium's "
                                "--ignore-certificate-errors-spki-list")
    authority.set_defaults(func=ca_path)

    follow = commands.add_parser(
        "logs", help="follow the request log of a running server, one JSON object a line",
        description="Print the requests a running greenroom answers as they happen, one JSON object a line "
                    "(id, time, method, path, service, operation, status, duration_ms, error), through the "
                    "WebSocket /_greenroom/requests/live. Ctrl-C stops.")
    follow.add_argument("--endpoint-url", "--endpoint", dest="endpoint_url", default=None, metavar="URL",
                        help=f"the server (default: GREENROOM_ENDPOINT_URL, AWS_ENDPOINT_URL, else {DEFAULT_KVS_ENDPOINT}); "
                             "https:// trusts AWS_CA_BUNDLE")
    follow.add_argument("--admin-token", metavar="TOKEN", default=None,
                        help="the server's --admin-token, sent as Authorization: Bearer (default: $GREENROOM_ADMIN_TOKEN)")
    follow.add_argument("--last", type=int, default=10, metavar="N",
                        help="start with the last N requests the server kept (default: %(default)s)")
    follow.add_argument("--no-follow", action="store_true", help="print the last N and exit")
    follow.set_defaults(func=logs)

    cover = commands.add_parser("coverage", help="implemented vs total operations per service")
    cover.add_argument("--json", action="store_true", help="the report as JSON")
    cover.add_argument("--summary", action="store_true", help="counts only")
    cover.set_defaults(func=coverage)

    paths = commands.add_parser("models-path", help="print a directory usable as AWS_DATA_PATH")
    paths.set_defaults(func=models_path)

    kvs = commands.add_parser("kvs", help="Kinesis Video Streams client tools")
    kvs_commands = kvs.add_subparsers(dest="kvs_command", required=True)
    put = kvs_commands.add_parser(
        "put-media", help="stream a media file into a Kinesis Video stream through PutMedia",
        description="Remux FILE (anything PyAV reads) to Matroska, one cluster per keyframe, and send it "
                    "through PutMedia; acknowledgements are printed as JSON lines. Endpoint, region, profile "
                    "and credentials are found as the AWS CLI finds them.")
    put.add_argument("file", metavar="FILE")
    put.add_argument("--stream-name", "--stream", dest="stream_name", required=True, metavar="NAME",
                     help="the stream's name")
    put.add_argument("--endpoint-url", "--endpoint", dest="endpoint_url", default=None, metavar="URL",
                     help="the Kinesis Video endpoint to ask for the PUT_MEDIA data endpoint (default: "
                          f"AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_ENDPOINT_URL, else {DEFAULT_KVS_ENDPOINT})")
    put.add_argument("--region", default=None,
                     help="signing region (default: AWS_DEFAULT_REGION, the profile's region, AWS_REGION, else us-east-1)")
    put.add_argument("--profile", default=None, help="a named profile of the AWS config and credentials files")
    put.add_argument("--realtime", action="store_true", help="send fragments at the media's own pace")
    put.add_argument("--loop", action="store_true", help="repeat the file forever (timecodes keep growing)")
    put.add_argument("--loops", type=int, metavar="N", help="repeat the file N times")
    put.add_argument("--no-audio", action="store_true", help="send the video track only")
    put.set_defaults(func=kvs_put_media)
    return parser


DEFAULT_KVS_ENDPOINT = "http://127.0.0.1:4580"


def kvs_put_media(args) -> int:
    """``greenroom kvs put-media``: 0 when every fragment was received, 1 on an ERROR
    acknowledgement, 2 when the file cannot be streamed (checked before connecting), the
    endpoint, profile or stream is not found, or PutMedia is refused (HTTP error). Errors are
    one line on standard error."""
    import os

    import botocore.exceptions
    import botocore.session  # not boto3: greenroom does not require it

    from .media.producer import MediaFileError, PutMediaError, check_media_file, put_media_file

    def fail(message: str) -> int:
        print(f"greenroom kvs put-media: {message}", file=sys.stderr)
        return 2

    try:
        check_media_file(args.file)
    except MediaFileError as error:
        return fail(str(error))
    try:
        session = botocore.session.Session(profile=args.profile)
        region = (args.region or session.get_config_variable("region") or os.environ.get("AWS_REGION")
                  or "us-east-1")
        credentials = session.get_credentials()
    except botocore.exceptions.ProfileNotFound as error:
        return fail(str(error))
    endpoint_url = (args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_KINESIS_VIDEO")
                    or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_KVS_ENDPOINT)
    # greenroom checks no signature: without credentials any key will do (the default account).
    keys = {} if credentials is not None else {"aws_access_key_id": "greenroomproducer",
                                               "aws_secret_access_key": "greenroomproducer"}
    control = session.create_client("kinesisvideo", endpoint_url=endpoint_url, region_name=region, **keys)
    try:
        endpoint = control.get_data_endpoint(StreamName=args.stream_name, APIName="PUT_MEDIA")["DataEndpoint"]
    except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as error:
        return fail(f"cannot find the PutMedia endpoint of {args.stream_name}: {error}")
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    options = {"access_key": frozen.access_key, "secret_key": frozen.secret_key,
               "session_token": frozen.token} if frozen else {}

    def show(ack: dict) -> None:
        print(json.dumps(ack), flush=True)

    loops = None if args.loop else args.loops
    try:
        result = put_media_file(endpoint, args.stream_name, args.file, realtime=args.realtime,
                                loop=args.loop or bool(args.loops), max_loops=loops, audio=not args.no_audio,
                                region=region, on_ack=show, **options)
    except PutMediaError as error:
        return fail(str(error))
    except (ConnectionError, OSError) as error:
        return fail(f"PutMedia to {endpoint} failed: {error}")
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the media could not be remuxed part way (PyAV), say
        return fail(f"{args.file}: {type(error).__name__}: {error}")
    print(f"sent {result.bytes_sent} bytes in {result.seconds:.2f} s; "
          f"{len(result.of_type('RECEIVED'))} fragments received, {len(result.errors)} errors", file=sys.stderr)
    return 1 if result.errors else 0


def logs(args) -> int:
    """``greenroom logs``: 0 when stopped (Ctrl-C, the server closing), 2 when the server cannot
    be reached or refuses."""
    import ssl
    import urllib.request
    from urllib.parse import urlsplit

    from websockets.exceptions import ConnectionClosed, InvalidHandshake
    from websockets.sync.client import connect

    from .core.requestlog import json_entry

    if args.last < 0:
        print("greenroom logs: --last must be 0 or more", file=sys.stderr)
        return 2
    base = (args.endpoint_url or os.environ.get("GREENROOM_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
            or DEFAULT_KVS_ENDPOINT).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print(f"greenroom logs: --endpoint-url must be an http:// or https:// URL, not {base!r}", file=sys.stderr)
        return 2
    url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path}/_greenroom/requests/live?last={args.last}"
    token = args.admin_token or os.environ.get("GREENROOM_ADMIN_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE")) if parts.scheme == "https" else None
    try:
        if args.no_follow:
            request = urllib.request.Request(base + "/_greenroom/requests", headers=headers)
            with urllib.request.urlopen(request, timeout=10, context=tls) as answer:
                kept = json.load(answer)["requests"]
            for logged in kept[len(kept) - args.last:] if args.last else []:
                print(json.dumps({"id": logged["id"], **json_entry(logged)}), flush=True)
            return 0
        with connect(url, additional_headers=headers, ssl=tls, open_timeout=10, max_size=None) as socket:
            for message in socket:
                print(message, flush=True)
    except KeyboardInterrupt:
        return 0
    except ConnectionClosed:
        return 0
    except (OSError, ValueError, KeyError, InvalidHandshake) as error:
        print(f"greenroom logs: cannot follow {url}: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
