"""``greenroom serve`` with cProfile switched on by SIGUSR1 and off (and dumped) by SIGUSR2.

    python bench/_profiled_server.py OUTPUT.prof serve --ephemeral --port 0

Used by profile_paths.py so that only the measured load is profiled (not startup, not warm-up).
"""
import cProfile
import signal
import sys

from greenroom.cli import main

_profiler = cProfile.Profile()


def _enable(_signum, _frame):
    _profiler.enable()


def _disable(_signum, _frame):
    _profiler.disable()
    _profiler.dump_stats(sys.argv[1])


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _enable)
    signal.signal(signal.SIGUSR2, _disable)
    sys.exit(main(sys.argv[2:]))
