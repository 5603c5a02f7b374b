#!/usr/bin/env python
"""Fuzz a greenroom server with model-driven inputs and raw HTTP garbage (see tests/fuzzing.py).

    scripts/fuzz.py --requests 100000            # starts `greenroom serve --ephemeral` itself
    scripts/fuzz.py --endpoint http://127.0.0.1:4580 --requests 5000 --seed 7

Prints progress every 1000 requests, then the summary and every finding; exits 1 on findings.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzzing import Fuzzer, protocol_garbage  # noqa: E402
from support import Launcher  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--endpoint", help="a running greenroom (default: start an ephemeral one)")
    parser.add_argument("--raw-share", type=float, default=0.25, help="share of raw HTTP requests")
    args = parser.parse_args()
    launcher = None
    if args.endpoint:
        endpoint = args.endpoint
    else:
        launcher = Launcher()
        endpoint = launcher("--ephemeral", "--log-level", "warning").base_url
    try:
        fuzzer = Fuzzer(endpoint, seed=args.seed)
        report = fuzzer.run(args.requests, args.raw_share,
                            progress=lambda n, r: print(f"{n} requests, {len(r.findings)} findings", flush=True))
        for what, status, body in protocol_garbage(endpoint):
            print(f"protocol garbage: {what}: {status} {body[:120]!r}")
    finally:
        if launcher is not None:
            launcher.close()
    print(report.summary())
    for finding in report.findings:
        print(finding)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
