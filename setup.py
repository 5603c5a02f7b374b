"""Build step: fetch the pinned hls.js for the console (src/greenroom/vendored.py) before the
package data is collected. Everything else is in pyproject.toml."""
import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _vendored():
    spec = importlib.util.spec_from_file_location("greenroom_vendored", HERE / "src" / "greenroom" / "vendored.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithHlsJs(build_py):
    def run(self):
        # Into the source tree: a wheel copies it from there, an editable install reads it there.
        _vendored().ensure()
        super().run()


setup(cmdclass={"build_py": BuildPyWithHlsJs})
