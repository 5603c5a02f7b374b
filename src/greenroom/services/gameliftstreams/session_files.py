"""What the streamed application leaves behind: its log, kept with the session in the store
(any process may end the session and upload it), and the archive ExportStreamSessionFiles
uploads when the session ends.

The log is the generated application's (greenroom streams no real application): one line per
thing it saw (started with its executable and launch arguments, a client connected, input, a
client went away, a reconnection, stopped and why), ``<ISO time> <text>``, the last
``LOG_LINES`` kept.

The archive [inferred beyond the documented folders]: a ZIP with the folders AWS documents
(``application/``, ``profile/``, ``temp/``); ``application/greenroom-application.log`` is the
log, and ``manifest.json`` (greenroom's own) describes the session and lists the files. It is
written to the OutputUri's bucket through the S3 stand-in (``resources.objects``:
``--s3-dir`` or ``--s3-endpoint-url``); a write the stand-in refuses makes the export FAILED
with its message as StatusReason. The archive depends only on the stored session, so writing it
again (a transition run again) writes the same bytes.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from ...core.clock import iso_utc_ms
from ...core.objectstore import ObjectStoreError

LOG_LINES = 500
LOG_PATH = "application/greenroom-application.log"
FOLDERS = ("application/", "profile/", "temp/")


def log(session: dict, at: float, text: str) -> None:
    """A line of the application's log (the caller stores the session)."""
    lines = session.setdefault("_log", [])
    lines.append(f"{iso_utc_ms(at)} {text}")
    del lines[:-LOG_LINES]


def launch_line(application: dict | None, session: dict) -> str:
    executable = (application or {}).get("ExecutablePath", "?")
    arguments = " ".join(session.get("AdditionalLaunchArgs", []))
    names = ", ".join(sorted(session.get("AdditionalEnvironmentVariables", {})))
    return (f"application started: {executable}{' ' + arguments if arguments else ''}"
            f"{f' (environment: {names})' if names else ''}")


def archive(session: dict, at: float) -> bytes:
    """The exported ZIP, timed ``at`` (when the session's files are collected)."""
    log_text = "".join(line + "\n" for line in session.get("_log", [])).encode()
    stamp = dt.datetime.fromtimestamp(at, dt.timezone.utc).timetuple()[:6]
    manifest = {
        "StreamSessionArn": session["Arn"], "StreamGroupId": session["StreamGroupId"],
        "ApplicationArn": session["ApplicationArn"], "Status": session["Status"],
        "StatusReason": session.get("StatusReason"), "CreatedAt": iso_utc_ms(session["CreatedAt"]),
        "ExportedAt": iso_utc_ms(at), "Files": [{"Path": LOG_PATH, "Size": len(log_text)}],
        "Generator": "greenroom (a generated application; no real application ran)",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_file:
        for folder in FOLDERS:
            archive_file.writestr(zipfile.ZipInfo(folder, stamp), b"")
        archive_file.writestr(zipfile.ZipInfo(LOG_PATH, stamp), log_text, zipfile.ZIP_DEFLATED)
        archive_file.writestr(zipfile.ZipInfo("manifest.json", stamp),
                              json.dumps(manifest, indent=2).encode(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def upload(objects, session: dict, at: float) -> tuple[str, str | None]:
    """Write the archive to the export's OutputUri; (Status, StatusReason) of the export."""
    bucket, _, key = session["ExportFilesMetadata"]["OutputUri"].removeprefix("s3://").partition("/")
    try:
        objects.put(bucket, key, archive(session, at), content_type="application/zip")
    except ObjectStoreError as error:
        return "FAILED", str(error)[:1024]
    return "SUCCEEDED", None
