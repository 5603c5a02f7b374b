"""Startup: ``greenroom serve`` from process start to its first successful ``GET /_greenroom/health``.

Cases (each timed from just before ``Popen`` to the end of the answer, median of ``--samples``
runs, cases interleaved, after one untimed warm-up run of each so the OS file cache and the
bytecode caches are warm; the caches go to a temporary PYTHONPYCACHEPREFIX, written even where
PYTHONDONTWRITEBYTECODE is set, as any installed Python writes them):

* ``greenroom --ephemeral``: ``greenroom serve --ephemeral --port 0`` (target <= 0.5 s, issue 19);
* ``greenroom --data-dir``: ``greenroom serve --data-dir <fresh temp dir> --port 0``, a new
  directory every run, so the SQLite file and schema are created each time (target <= 0.5 s, issue 19);
* ``greenroom --tls-port``: ``greenroom serve --ephemeral --port 0 --tls-port 0`` with the CA
  already made (it is kept in the data directory, here ``$XDG_DATA_HOME`` of the benchmark), timed
  to the first 200 over HTTPS, certificate verified against the CA (target <= 0.5 s, issue 19);
* ``greenroom --tls-port first run``: the same with a new data directory every run, so the CA
  and the server certificate are made each time (what only the very first start costs);
* ``bare uvicorn app`` (baseline): ``python bench/_bareapp.py --port 0``, the same server stack
  with an app that does nothing: what uvicorn itself costs to start and answer;
* for context, bare ``python -c pass``, ``python -c "import uvicorn"`` and
  ``python -c "import greenroom.cli"`` (wall time of the whole process).

``greenroom`` is the console script installed next to this interpreter. The health request is
sent as soon as the "listening on" line arrives (the socket is bound and listening by then, so
the request waits in the backlog until the app serves it); the time to that line is shown too.

    python bench/bench_startup.py [--samples 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import os
import re

from _common import bare_command, greenroom_command, http_get, https_get, source_state, start_server

TARGET_SECONDS = 0.5


def child_environment(tmp: Path) -> dict[str, str]:
    """The environment of every timed process: bytecode caches written (into ``tmp``, not the
    source tree) and read, as after any install, even where PYTHONDONTWRITEBYTECODE is set:
    compiling greenroom's ~110 modules from source on every start costs ~0.15 s, which users
    whose Python writes its caches never pay."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_server(name: str, command: list[str], tmp: Path, xdg: Path | None = None) -> tuple[float, float]:
    """(seconds to the "listening on" line, seconds to the first 200 of GET /_greenroom/health);
    with ``xdg`` (the data home holding the TLS CA), over HTTPS."""
    env = child_environment(tmp)
    if xdg:
        env["XDG_DATA_HOME"] = str(xdg)
    server = start_server(name, command, tmp / f"{name.replace(' ', '_')}.stderr", env=env)
    try:
        if xdg:
            tls_port = int(re.search(r"https://127\.0\.0\.1:(\d+)", server.first_line).group(1))
            status, body = https_get(tls_port, "/_greenroom/health", str(xdg / "greenroom" / "tls" / "ca.pem"))
        else:
            status, body = http_get(server.port, "/_greenroom/health")
        answered = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"{name}: health answered {status}: {body[:300]!r}")
        if name.startswith("greenroom") and json.loads(body).get("status") != "ok":
            raise RuntimeError(f"{name}: unexpected health {body[:300]!r}")
    finally:
        server.stop()
    return server.bound_at - server.started_at, answered - server.started_at


def time_process(command: list[str], tmp: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, timeout=60, env=child_environment(tmp))
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args(argv)

    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-startup-") as tmp:
        tmp = Path(tmp)
        counter = iter(range(10**6))

        def fresh_dir() -> str:
            return str(tmp / f"data-{next(counter)}")

        kept_ca = tmp / "xdg-kept"
        tls_command = greenroom_command() + ["serve", "--ephemeral", "--port", "0", "--tls-port", "0"]
        data_homes = {"greenroom --tls-port": lambda: kept_ca,
                      "greenroom --tls-port first run": lambda: Path(fresh_dir())}
        servers = {
            "greenroom --ephemeral": lambda: greenroom_command() + ["serve", "--ephemeral", "--port", "0"],
            "greenroom --tls-port": lambda: tls_command,
            "greenroom --tls-port first run": lambda: tls_command,
            "greenroom --data-dir": lambda: greenroom_command() + ["serve", "--data-dir", fresh_dir(),
                                                                   "--port", "0"],
            "bare uvicorn app": lambda: bare_command() + ["--port", "0"],
        }
        processes = {
            "python -c pass": [python, "-c", "pass"],
            "python -c 'import uvicorn'": [python, "-c", "import uvicorn"],
            "python -c 'import greenroom.cli'": [python, "-c", "import greenroom.cli"],
        }
        # Warm-up: fill the OS file cache and the bytecode caches (child_environment).
        for name, command in servers.items():
            time_server(name, command(), tmp, data_homes.get(name, lambda: None)())
        for command in processes.values():
            time_process(command, tmp)

        server_times = {name: [] for name in servers}
        process_times = {name: [] for name in processes}
        names = list(servers)
        for sample in range(args.samples):
            rotation = names[sample % len(names):] + names[:sample % len(names)]
            for name in rotation:
                server_times[name].append(time_server(name, servers[name](), tmp,
                                                      data_homes.get(name, lambda: None)()))
            for name, command in processes.items():
                process_times[name].append(time_process(command, tmp))

    print(f"bench_startup: median of {args.samples} runs each (after one warm-up run); "
          f"greenroom = {' '.join(greenroom_command())}")
    print(f"greenroom at {source_state()}; python {sys.version.split()[0]} at {python}")
    print("  server start -> first 200 of GET /_greenroom/health:")
    medians = {}
    for name, samples in server_times.items():
        listening = statistics.median(bound for bound, _ in samples)
        answered = [total for _, total in samples]
        medians[name] = statistics.median(answered)
        print(f"    {name:<24} median {medians[name] * 1000:7.0f} ms   (listening line "
              f"{listening * 1000:.0f} ms)   runs: {' '.join(f'{t * 1000:.0f}' for t in answered)}")
    print("  process wall time (context):")
    for name, samples in process_times.items():
        print(f"    {name:<34} median {statistics.median(samples) * 1000:7.0f} ms   "
              f"runs: {' '.join(f'{t * 1000:.0f}' for t in samples)}")
    bare = medians["bare uvicorn app"]
    for name in ("greenroom --ephemeral", "greenroom --data-dir", "greenroom --tls-port"):
        value = medians[name]
        print(f"{name}: {value:.3f} s, {value / bare:.2f}x the bare uvicorn app ({bare:.3f} s)   "
              f"target <= {TARGET_SECONDS:g} s: {'met' if value <= TARGET_SECONDS else 'not met'}")
    plain, tls, first = (medians[name] for name in ("greenroom --ephemeral", "greenroom --tls-port",
                                                     "greenroom --tls-port first run"))
    print(f"TLS: {tls / plain:.2f}x plain greenroom --ephemeral with the CA kept; the first run (CA made) "
          f"{first:.3f} s, {first / plain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
