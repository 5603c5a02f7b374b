"""The console's hls.js is taken only as the pinned npm tarball: anything else is refused before
a file is written (greenroom/vendored.py, run by setup.py's build step)."""
from __future__ import annotations

import io
import tarfile

import pytest

from greenroom import vendored
from support import need


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as archive:
        for name in vendored.FILES:
            member = tarfile.TarInfo(name)
            member.size = 5
            archive.addfile(member, io.BytesIO(b"evil!"))
    (tmp_path / "hls.tgz").write_bytes(fake.getvalue())
    monkeypatch.setenv("GREENROOM_HLS_JS_TGZ", str(tmp_path / "hls.tgz"))
    with pytest.raises(vendored.FetchError, match="sha512"):
        vendored.ensure(tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


def test_the_installed_copy_is_the_pinned_version():
    folder = vendored.VENDOR_DIR
    need((folder / "hls.min.js").is_file(), "hls.js (pip install -e . or python -m greenroom.vendored)")
    assert (folder / "hls.js.version").read_text().strip() == vendored.HLS_JS_VERSION
    assert b"Apache License" in (folder / "hls.js.LICENSE").read_bytes()
    assert vendored.ensure() == folder  # already there: nothing fetched again
