"""hls.js for the web console's player, fetched at build/install time from the npm registry,
pinned and checked against its published sha512 (standard library only: ``setup.py`` loads this
file before greenroom's dependencies exist).

``pip install .`` and ``pip install -e .`` run it (setup.py's build_py); ``python -m
greenroom.vendored`` runs it by hand (e.g. in a checkout used through PYTHONPATH). Offline:
``GREENROOM_HLS_JS_TGZ=/path/hls.js-<version>.tgz`` (the same npm tarball, same check).
The files land in ``console_static/vendor/`` (git-ignored): ``hls.min.js`` and its licence.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

HLS_JS_VERSION = "1.7.4"
# npm's "integrity" of hls.js-1.7.4.tgz (package-lock.json of tests/players has the same).
HLS_JS_SHA512 = "3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg=="
HLS_JS_URL = f"https://registry.npmjs.org/hls.js/-/hls.js-{HLS_JS_VERSION}.tgz"
VENDOR_DIR = Path(__file__).resolve().parent / "console_static" / "vendor"
# member of the tarball -> file in the vendor directory
FILES = {"package/dist/hls.min.js": "hls.min.js", "package/LICENSE": "hls.js.LICENSE"}


class FetchError(Exception):
    """The tarball could not be had or is not the pinned one."""


def _tarball() -> bytes:
    local = os.environ.get("GREENROOM_HLS_JS_TGZ")
    if local:
        return Path(local).read_bytes()
    try:
        with urllib.request.urlopen(HLS_JS_URL, timeout=60) as answer:
            return answer.read()
    except OSError as error:
        raise FetchError(f"cannot download {HLS_JS_URL}: {error} (offline: set GREENROOM_HLS_JS_TGZ "
                         f"to a copy of that file)") from None


def ensure(vendor_dir: Path = VENDOR_DIR) -> Path:
    """The vendor directory with hls.min.js and its licence, fetched and checked if missing."""
    vendor_dir = Path(vendor_dir)
    marker = vendor_dir / "hls.js.version"
    if marker.is_file() and marker.read_text().strip() == HLS_JS_VERSION and all(
            (vendor_dir / name).is_file() for name in FILES.values()):
        return vendor_dir
    data = _tarball()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != HLS_JS_SHA512:
        raise FetchError(f"hls.js {HLS_JS_VERSION} tarball has sha512 {digest}, expected {HLS_JS_SHA512}")
    vendor_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in FILES.items():
            content = archive.extractfile(member).read()
            temporary = vendor_dir / (name + ".part")
            temporary.write_bytes(content)
            temporary.replace(vendor_dir / name)  # a concurrent build never sees half a file
    marker.write_text(HLS_JS_VERSION + "\n")
    return vendor_dir


if __name__ == "__main__":
    try:
        print(ensure() / "hls.min.js")
    except FetchError as error:
        print(f"greenroom: {error}", file=sys.stderr)
        sys.exit(1)
