"""SigV4 verification on demand (``greenroom serve --verify-signatures --credentials FILE``,
``greenroom.mock(credentials=...)``): every AWS API request must be signed with a known key, as
AWS checks it. botocore's signer computes the signature the request should carry; this module
only reads what the client sent (Authorization header or presigned query) and compares.

Checked, in AWS's order: the signature's parts are all there (IncompleteSignatureException), the
access key is known and its session token matches (UnrecognizedClientException) and has not
expired (ExpiredTokenException), the credential scope names a region and this request's date,
X-Amz-Date is within 5 minutes of real time (or, presigned, X-Amz-Expires has not passed), and
the signature matches (InvalidSignatureException). A payload hash sent in X-Amz-Content-SHA256
must match the body when the body is known; ``UNSIGNED-PAYLOAD`` and the ``STREAMING-*`` forms
(PutMedia's live body) sign the headers only.

Status codes: the rest-json services answer signature errors with 403 ([inferred] for the
date errors, which AWS's JSON-1.1 services answer with 400).

The credentials file is JSON: a list (or ``{"credentials": [...]}``) of
``{"accessKeyId", "secretAccessKey", "account", "sessionToken"?, "expiration"?}``; an entry with a
session token accepts requests carrying exactly that token, until its expiration (ISO 8601).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .errors import ServiceError
from .ids import check_region

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600  # SigV4's limit on X-Amz-Expires
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD",)
STREAMING_PREFIX = "STREAMING-"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    account: str
    session_token: str | None = None
    expiration: float | None = None  # epoch seconds


@dataclass(frozen=True)
class Verified:
    account: str
    region: str
    signing_name: str


class CredentialsFileError(ValueError):
    """The credentials file cannot be read or holds an invalid entry (names the problem)."""


def load_credentials(source: str | Path | list | dict) -> dict[str, list[Credential]]:
    """Credentials by access key id, from a file path or from the parsed document itself."""
    document = source
    if isinstance(source, (str, Path)):
        try:
            document = json.loads(Path(source).read_text())
        except OSError as error:
            raise CredentialsFileError(f"cannot read the credentials file {source}: {error.strerror}") from None
        except ValueError as error:
            raise CredentialsFileError(f"the credentials file {source} is not JSON: {error}") from None
    entries = document.get("credentials") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not entries:
        raise CredentialsFileError('the credentials file must hold a non-empty list (or {"credentials": [...]})')
    found: dict[str, list[Credential]] = {}
    for index, entry in enumerate(entries):
        try:
            expiration = entry.get("expiration")
            credential = Credential(
                access_key_id=_text(entry["accessKeyId"]), secret_access_key=_text(entry["secretAccessKey"]),
                account=_text(entry["account"]), session_token=entry.get("sessionToken"),
                expiration=_epoch(expiration) if expiration is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CredentialsFileError(
                f"credentials entry {index + 1} needs accessKeyId, secretAccessKey and a 12-digit account "
                f"(optionally sessionToken, expiration): {error!r}") from None
        if not re.fullmatch(r"[0-9]{12}", credential.account):
            raise CredentialsFileError(f"credentials entry {index + 1}: account must be 12 digits")
        found.setdefault(credential.access_key_id, []).append(credential)
    return found


def _text(value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a non-empty string")
    return value


def _epoch(text: str) -> float:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()


class _ExactHeadersSigV4(SigV4Auth):
    """botocore's SigV4 with the headers the client says it signed, no more and no fewer."""

    def __init__(self, credentials, service_name, region_name, signed_headers: list[str]):
        super().__init__(credentials, service_name, region_name)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        chosen = HTTPHeaders()
        for name in self._signed:
            chosen[name] = request.headers.get(name) or ""
        return chosen


class SignatureVerifier:
    def __init__(self, credentials: dict[str, list[Credential]], clock=time.time):
        self.credentials = credentials
        self.clock = clock  # real time: signatures are about the client's clock, not the emulated one

    def verify(self, request, body: bytes | None) -> Verified:
        """The caller of a signed request, or the ServiceError AWS would answer. ``body`` is None
        when it is not read yet (a streaming route): the payload must then be unsigned."""
        parts, presigned = self._signature_parts(request)
        access_key, date, region, service = parts["credential"]
        credential = self._credential(access_key, parts.get("token"))
        amz_date = parts["date"]
        try:
            signed_at = dt.datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            raise _error("IncompleteSignatureException",
                         f"Date must be in ISO-8601 'basic format'. Got '{_shown(amz_date)}'. "
                         "See http://en.wikipedia.org/wiki/ISO_8601", 400) from None
        if date != amz_date[:8]:
            raise _error("InvalidSignatureException",
                         f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                         f"HTTP: '{_shown(date)}' != '{amz_date[:8]}', from '{amz_date}'.")
        check_region(region)
        self._check_time(signed_at, amz_date, parts.get("expires"))
        payload_hash = request.headers.get("x-amz-content-sha256")
        if body is None and payload_hash and not _unsigned(payload_hash):
            raise _error("InvalidSignatureException",
                         "A streaming request must be signed with X-Amz-Content-SHA256: UNSIGNED-PAYLOAD "
                         "(or a STREAMING-* payload)")  # [inferred] wording
        if body is not None and payload_hash and not _unsigned(payload_hash) and \
                payload_hash != hashlib.sha256(body).hexdigest():
            raise _error("InvalidSignatureException",
                         "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
        # A streaming body (PutMedia) without X-Amz-Content-SHA256 cannot be hashed up front: its
        # producers sign the empty body's hash or UNSIGNED-PAYLOAD in its place. [inferred]
        payload_hashes = [None] if body is not None or payload_hash else [EMPTY_SHA256, "UNSIGNED-PAYLOAD"]
        for assumed in payload_hashes:
            expected, canonical, string_to_sign = self._expected(request, body, credential, parts, presigned, assumed)
            if hmac.compare_digest(expected, parts["signature"]):
                break
        else:
            raise _error("InvalidSignatureException",
                         "The request signature we calculated does not match the signature you provided. Check "
                         "your AWS Secret Access Key and signing method. Consult the service documentation for "
                         f"details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                         f"The String-to-Sign should have been\n'{string_to_sign}'\n")
        return Verified(credential.account, region, service)

    def caller_account(self, access_key: str) -> str | None:
        entries = self.credentials.get(access_key)
        return entries[0].account if entries else None

    # ---------------------------------------------------------------- reading the request
    def _signature_parts(self, request) -> tuple[dict, bool]:
        query = _query_pairs(request.query_string)
        names = {name for name, _ in query}
        if "X-Amz-Algorithm" in names or "X-Amz-Signature" in names:
            values = {name: value for name, value in query}
            missing = [name for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                                         "X-Amz-SignedHeaders", "X-Amz-Signature") if name not in values]
            if missing:
                raise _error("IncompleteSignatureException", " ".join(
                    f"AWS query-string parameters must include '{name}'." for name in missing)
                    + " Re-examine the query-string parameters.", 400)
            if values["X-Amz-Algorithm"] != ALGORITHM:
                raise _error("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{_shown(values['X-Amz-Algorithm'])}'", 400)
            try:
                expires = int(values["X-Amz-Expires"])
            except ValueError:
                raise _error("IncompleteSignatureException", "X-Amz-Expires must be a number of seconds", 400) from None
            if not 0 < expires <= MAX_PRESIGNED_EXPIRES:
                raise _error("IncompleteSignatureException",
                             f"X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds", 400)
            return {"credential": _credential_scope(values["X-Amz-Credential"]), "date": values["X-Amz-Date"],
                    "signed_headers": values["X-Amz-SignedHeaders"], "signature": values["X-Amz-Signature"],
                    "token": values.get("X-Amz-Security-Token"), "expires": expires}, True
        header = request.headers.get("authorization")
        if not header:
            raise _error("MissingAuthenticationTokenException", "Missing Authentication Token")
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise _error("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{_shown(algorithm)}'", 400)
        fields = {}
        for item in rest.split(","):
            name, equals, value = item.strip().partition("=")
            if not equals:
                raise _error("IncompleteSignatureException",
                             f"'{_shown(item.strip())}' not a valid key=value pair (missing equal-sign) in "
                             f"Authorization header: '{_shown(header)}'.", 400)
            fields[name] = value
        amz_date = request.headers.get("x-amz-date")
        problems = [f"Authorization header requires '{name}' parameter." for name in
                    ("Credential", "Signature", "SignedHeaders") if not fields.get(name)]
        if not amz_date:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if problems:
            raise _error("IncompleteSignatureException", " ".join(problems) + f" Authorization={_shown(header)}", 400)
        return {"credential": _credential_scope(fields["Credential"]), "date": amz_date,
                "signed_headers": fields["SignedHeaders"], "signature": fields["Signature"],
                "token": request.headers.get("x-amz-security-token")}, False

    def _credential(self, access_key: str, token: str | None) -> Credential:
        for credential in self.credentials.get(access_key, ()):
            if credential.session_token == token:
                if credential.expiration is not None and self.clock() >= credential.expiration:
                    raise _error("ExpiredTokenException", "The security token included in the request is expired")
                return credential
        raise _error("UnrecognizedClientException", "The security token included in the request is invalid.")

    def _check_time(self, signed_at: float, amz_date: str, expires: int | None) -> None:
        now = self.clock()
        stamp = time.strftime(AMZ_DATE, time.gmtime(now))
        if expires is not None:  # presigned: valid from its date until date + expires
            if now > signed_at + expires:
                raise _error("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
                             f"{time.strftime(AMZ_DATE, time.gmtime(now - expires))} ({stamp} - {expires} sec.)")
            if signed_at > now + MAX_SKEW_SECONDS:
                raise _not_yet_current(amz_date, now, stamp)
            return
        if signed_at < now - MAX_SKEW_SECONDS:
            raise _error("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
                         f"{time.strftime(AMZ_DATE, time.gmtime(now - MAX_SKEW_SECONDS))} ({stamp} - 5 min.)")
        if signed_at > now + MAX_SKEW_SECONDS:
            raise _not_yet_current(amz_date, now, stamp)

    # ---------------------------------------------------------------- botocore computes
    def _expected(self, request, body, credential: Credential, parts: dict, presigned: bool,
                  assumed_payload_hash: str | None = None):
        signed_headers = parts["signed_headers"].split(";")
        _, _, region, service = parts["credential"]
        # The query as SigV4 canonicalizes it (decoded, then encoded the one way); botocore sorts it.
        canonical_query = "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
                                   for name, value in _query_pairs(request.query_string)
                                   if not (presigned and name == "X-Amz-Signature"))
        url = f"{request.scheme}://{request.headers.get('host') or request.host}{request.raw_path}"
        headers = {name: request.headers.get(name) or "" for name in signed_headers}
        if "host" in signed_headers and not headers["host"]:
            headers["host"] = request.host
        # A signed X-Amz-Content-SHA256 is the payload's hash in the canonical request (botocore
        # reads it under this spelling); otherwise botocore hashes the body.
        payload_hash = headers.pop("x-amz-content-sha256", None) or assumed_payload_hash
        if payload_hash is not None:
            headers["X-Amz-Content-SHA256"] = payload_hash
        aws_request = AWSRequest(method=request.method, url=url + ("?" + canonical_query if canonical_query else ""),
                                 headers=headers, data=body or b"")
        aws_request.context["timestamp"] = parts["date"]
        signer = _ExactHeadersSigV4(Credentials(credential.access_key_id, credential.secret_access_key,
                                                credential.session_token), service, region, signed_headers)
        canonical = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical)
        return signer.signature(string_to_sign, aws_request), canonical, string_to_sign


def _credential_scope(text: str) -> tuple[str, str, str, str]:
    pieces = text.split("/")
    if len(pieces) != 5 or pieces[4] != "aws4_request" or not all(pieces):
        raise _error("IncompleteSignatureException",
                     f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                     f" got '{_shown(text)}'", 400)
    return pieces[0], pieces[1], pieces[2], pieces[3]


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query_string.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return sorted(pairs)


def _unsigned(payload_hash: str | None) -> bool:
    return bool(payload_hash) and (payload_hash in UNSIGNED_PAYLOADS or payload_hash.startswith(STREAMING_PREFIX))


def _not_yet_current(amz_date: str, now: float, stamp: str) -> ServiceError:
    return _error("InvalidSignatureException", f"Signature not yet current: {amz_date} is still later than "
                  f"{time.strftime(AMZ_DATE, time.gmtime(now + MAX_SKEW_SECONDS))} ({stamp} + 5 min.)")


def _shown(text: str) -> str:
    text = text if len(text) <= 512 else text[:512] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(code: str, message: str, status: int = 403) -> ServiceError:
    return ServiceError(code, message, status=status)
