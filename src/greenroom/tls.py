"""Certificates for ``greenroom serve --tls``: a local certificate authority made once and kept in
the data directory (``<data dir>/tls/ca.pem``), and a server certificate it signs for
localhost, 127.0.0.1, ::1 and the names given with ``--tls-name``.

Users trust ``ca.pem`` once (``AWS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``, ``SSL_CERT_FILE``,
``AWS_KVS_CACERT_PATH``, a browser policy); server certificates come and go beside it. A server
certificate is kept per set of names and CA (``server-<digest>.pem``, the leaf followed by the
CA, so a client that pins the CA's key, as Chromium's ``--ignore-certificate-errors-spki-list``
does, finds it in the chain) and made again a month before it expires.

Keys are ECDSA P-256: every client greenroom serves (OpenSSL, mbedTLS in the KVS SDKs, Node,
Chromium) accepts them, and making one takes microseconds where RSA takes tens of milliseconds.
Several processes sharing a data directory make the CA once: creation holds a lock file, and
files appear whole (written aside, then renamed).
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import socket
from pathlib import Path

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_YEARS = 10
SERVER_DAYS = 397            # within what browsers accept for a server certificate
RENEW_BEFORE_DAYS = 30
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


def tls_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "tls"


def ca_path(data_dir: Path) -> Path:
    """The CA certificate's file, made first if there is none yet."""
    directory = tls_dir(data_dir)
    if not (directory / CA_FILE).is_file() or not (directory / CA_KEY_FILE).is_file():
        with _locked(directory):
            _ca(directory)
    return directory / CA_FILE


def server_files(data_dir: Path, names=()) -> tuple[Path, Path]:
    """(certificate chain file, key file) for a server known by ``DEFAULT_NAMES`` and ``names``."""
    directory = tls_dir(data_dir)
    names = list(dict.fromkeys([*DEFAULT_NAMES, *(_normal(name) for name in names if name)]))
    ca_file = directory / CA_FILE
    if ca_file.is_file():
        found = _usable_server_files(directory, names, ca_file.read_bytes())
        if found is not None:
            return found  # the common case: nothing to make, no lock
    with _locked(directory):
        ca_certificate, ca_key = _ca(directory)
        ca_pem = ca_file.read_bytes()
        found = _usable_server_files(directory, names, ca_pem)
        if found is not None:
            return found
        cert_file, key_file = _server_paths(directory, names, ca_pem)
        certificate, key = _make_server(names, ca_certificate, ca_key)
        from cryptography.hazmat.primitives import serialization
        _write(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), private=True)
        _write(cert_file, certificate.public_bytes(serialization.Encoding.PEM) + ca_pem)
        return cert_file, key_file


def spki_sha256(certificate_file: Path) -> str:
    """Base64 SHA-256 of the (first) certificate's public key: what Chromium's
    ``--ignore-certificate-errors-spki-list`` takes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    certificate = x509.load_pem_x509_certificate(Path(certificate_file).read_bytes())
    der = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


# ---------------------------------------------------------------------------- making

def _ca(directory: Path):
    """The CA (certificate, key), made if missing; call with the lock held."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    cert_file, key_file = directory / CA_FILE, directory / CA_KEY_FILE
    if cert_file.is_file() and key_file.is_file():
        return (x509.load_pem_x509_certificate(cert_file.read_bytes()),
                serialization.load_pem_private_key(key_file.read_bytes(), password=None))
    certificate, key = _make_ca()
    _write(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), private=True)
    _write(cert_file, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def _make_ca():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "greenroom"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"greenroom local CA ({socket.gethostname()[:40]})")])
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _make_server(names: list[str], ca_certificate, ca_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    alternative_names = []
    for name in names:
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative_names.append(x509.DNSName(name))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "greenroom"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


# ---------------------------------------------------------------------------- files

def _server_paths(directory: Path, names: list[str], ca_pem: bytes) -> tuple[Path, Path]:
    digest = hashlib.sha256("\n".join(sorted(names)).encode() + b"\0" + ca_pem).hexdigest()[:16]
    return directory / f"server-{digest}.pem", directory / f"server-{digest}-key.pem"


def _usable_server_files(directory: Path, names: list[str], ca_pem: bytes) -> tuple[Path, Path] | None:
    cert_file, key_file = _server_paths(directory, names, ca_pem)
    if not (cert_file.is_file() and key_file.is_file()):
        return None
    from cryptography import x509
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    remaining = certificate.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return (cert_file, key_file) if remaining > dt.timedelta(days=RENEW_BEFORE_DAYS) else None


def _normal(name: str) -> str:
    name = name.strip().strip("[]").lower()
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _write(path: Path, data: bytes, private: bool = False) -> None:
    """Write whole or not at all (aside, then renamed); keys readable by their owner only."""
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(aside, path)


@contextlib.contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
