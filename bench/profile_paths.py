"""Where the time goes: cProfile of DescribeStream through the mock and through the server.

Not a benchmark (cProfile inflates every Python call); it ranks hotspots for optimisation.

* ``mock``: N DescribeStream calls through ``greenroom.mock()`` (after a warm-up), profiled in
  this process. Shares are of the whole ``describe_stream`` call (botocore included).
* ``server``: ``greenroom serve --ephemeral --port 0`` in a subprocess (``_profiled_server.py``:
  the profiler is switched on by SIGUSR1 after a warm-up and off, and dumped, by SIGUSR2) under
  the same load as bench_server.py. Shares are of the server's profiled (busy) time; idle waits
  in the event loop are not counted. cProfile measures wall time, so a socket write that gets
  preempted on a busy machine shows up as uvicorn's ``send`` own time.

For each: greenroom's functions by cumulative time, own time by package, then the functions of
any package by own time (the leaves), per request and as a share. cProfile counts every resume
of a generator as a call: a ``@contextmanager`` entered once per request shows 2 calls.

    python bench/profile_paths.py [mock|server|all] [--calls 2000] [--duration 5] [--top 25]
                                  [--save DIR]  (pstats files, e.g. for snakeviz or pstats)
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

SRC_MARK = "/greenroom/"


def short(func) -> str:
    filename, line, name = func
    if filename.startswith("~") or filename == "<built-in>":
        return name
    parts = Path(filename).parts
    for anchor in ("greenroom", "sqlalchemy", "botocore", "uvicorn", "boto3", "asyncio", "json",
                   "logging", "urllib", "uuid", "re", "dataclasses", "contextlib"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[index:])}:{line} {name}"
    return f"{'/'.join(parts[-2:])}:{line} {name}"


def package(func) -> str:
    """greenroom, sqlalchemy, botocore, uvicorn, ... or "builtins" / "stdlib"."""
    filename = func[0]
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if SRC_MARK in filename:
        return "greenroom"
    return "stdlib:" + (parts[-2] if parts[-1] == "__init__.py" else Path(parts[-1]).stem)


def report(stats: pstats.Stats, *, requests: int, reference: float, reference_name: str, top: int) -> None:
    entries = stats.stats  # func -> (cc, nc, tt, ct, callers)
    print(f"  shares are of {reference_name}: {reference / requests * 1e6:.1f} us per request "
          f"(profiled), {requests} requests")
    ours = [(func, value) for func, value in entries.items() if SRC_MARK in func[0] and "/bench/" not in func[0]]
    ours.sort(key=lambda item: item[1][3], reverse=True)
    print(f"  greenroom functions by cumulative time (top {top}):")
    print(f"    {'cum %':>6} {'cum us/req':>10} {'own %':>6} {'calls/req':>9}  function")
    for func, (cc, nc, tt, ct, _) in ours[:top]:
        print(f"    {ct / reference * 100:6.1f} {ct / requests * 1e6:10.1f} {tt / reference * 100:6.1f} "
              f"{nc / requests:9.1f}  {short(func)}")
    by_package: dict[str, float] = {}
    for func, (cc, nc, tt, ct, _) in entries.items():
        by_package[package(func)] = by_package.get(package(func), 0.0) + tt
    print("  own time by package: " + ", ".join(
        f"{name} {tt / reference * 100:.1f}%" for name, tt in
        sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:10]))
    leaves = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)
    print(f"  all functions by own time (top {top}):")
    print(f"    {'own %':>6} {'own us/req':>10} {'calls/req':>9}  function")
    for func, (cc, nc, tt, ct, _) in leaves[:top]:
        print(f"    {tt / reference * 100:6.1f} {tt / requests * 1e6:10.1f} {nc / requests:9.1f}  {short(func)}")


def profile_mock(calls: int, top: int, save: Path | None = None) -> None:
    import greenroom
    from bench_mock import CLIENT_OPTIONS, STREAM
    import boto3

    with greenroom.mock() as gr:
        client = boto3.session.Session().client("kinesisvideo", **CLIENT_OPTIONS)
        client.create_stream(StreamName=STREAM, DataRetentionInHours=24)
        gr.clock.advance(60)
        for _ in range(300):
            client.describe_stream(StreamName=STREAM)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(calls):
            client.describe_stream(StreamName=STREAM)
        profiler.disable()
        elapsed = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    if save:
        stats.dump_stats(save / "mock.prof")
    print(f"mock: {calls} DescribeStream calls through greenroom.mock(), "
          f"{elapsed / calls * 1e6:.0f} us per call under the profiler")
    total = stats.total_tt
    report(stats, requests=calls, reference=total, reference_name="the whole describe_stream call", top=top)
    answer = [v for f, v in stats.stats.items() if f[2] == "_answer" and SRC_MARK in f[0]]
    if answer:
        print(f"  MockGreenroom._answer (greenroom's part) is {answer[0][3] / total * 100:.1f}% of the call")


def profile_server(duration: float, top: int, save: Path | None = None) -> None:
    import signal
    from _common import BENCH_DIR, exchange, run_load, start_server
    from bench_server import signed_describe_stream

    with tempfile.TemporaryDirectory(prefix="greenroom-profile-") as tmp:
        tmp = Path(tmp)
        output = tmp / "server.prof"
        server = start_server("greenroom (cProfile)", [
            sys.executable, str(BENCH_DIR / "_profiled_server.py"), str(output),
            "serve", "--ephemeral", "--port", "0"], tmp / "server.stderr")
        try:
            request = signed_describe_stream(server.port)
            status, _, body = exchange(server.port, request)
            assert status == 200, body
            run_load(server.port, request, duration=1.0)  # warm-up, not profiled
            server.process.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            result = run_load(server.port, request, duration=duration)
            server.process.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not output.exists() or output.stat().st_size == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("the profile was not written:\n" + server.stderr_text())
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            server.stop()
        stats = pstats.Stats(str(output), stream=io.StringIO())
        if save:
            stats.dump_stats(save / "server.prof")
    http = [v for f, v in stats.stats.items() if f[2] == "_http" and f[0].endswith("greenroom/server.py")]
    requests = int(http[0][1]) if http else result.requests
    reference = http[0][3] if http else stats.total_tt
    print(f"server: greenroom serve --ephemeral, cProfile on during {duration:g} s of the bench_server "
          f"load (8 connections): {requests} requests, {result.rps:.0f} rps under the profiler")
    print(f"  profiled (busy) time of the server: {stats.total_tt / requests * 1e6:.1f} us per request; "
          f"App._http (greenroom's ASGI app) is {reference / stats.total_tt * 100:.1f}% of it "
          f"(the rest: uvicorn's protocol, asyncio/uvloop callbacks)")
    report(stats, requests=requests, reference=stats.total_tt,
           reference_name="the server's profiled time", top=top)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=["mock", "server", "all"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="directory to write mock.prof / server.prof to")
    args = parser.parse_args(argv)
    if args.which in ("mock", "all"):
        profile_mock(args.calls, args.top, args.save)
    if args.which in ("server", "all"):
        profile_server(args.duration, args.top, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
