"""Identifiers and ARNs in the services' own formats; seedable so tests can predict them."""
from __future__ import annotations

import functools
import random
import re
import secrets
import string

from .errors import ServiceError

ALPHANUMERIC = string.ascii_letters + string.digits
LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
BASE64URL = string.ascii_letters + string.digits + "-_"


class Ids:
    def __init__(self, seed: int | None = None):
        self._random = random.Random(seed) if seed is not None else secrets.SystemRandom()

    def reseed(self, seed: int | None) -> None:
        self._random = random.Random(seed) if seed is not None else secrets.SystemRandom()

    def chars(self, alphabet: str, length: int) -> str:
        if isinstance(self._random, secrets.SystemRandom):
            return _system_chars(alphabet, length)
        return "".join(self._random.choice(alphabet) for _ in range(length))

    def alphanumeric(self, length: int) -> str:
        """Mixed-case letters and digits (IVS stage ids, GameLift Streams ids)."""
        return self.chars(ALPHANUMERIC, length)

    def lower_alphanumeric(self, length: int) -> str:
        return self.chars(LOWER_ALPHANUMERIC, length)

    def hex(self, length: int) -> str:
        return self.chars(HEX, length)

    def base64url(self, length: int) -> str:
        """Nimble's 22-character resource ids."""
        return self.chars(BASE64URL, length)

    def uuid(self) -> str:
        value = self._random.getrandbits(128)
        value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _system_chars(alphabet: str, length: int) -> str:
    """Uniform characters from the system's randomness, one read for all of them (choice() read
    it once per character: a CreateStream's version string cost 20 reads): bytes at or above the
    largest multiple of the alphabet's size are dropped, so every character is equally likely."""
    table, dropped = _byte_table(alphabet)
    found = b""
    while len(found) < length:
        found += secrets.token_bytes(length + length // 2 + 4).translate(table, dropped)
    return found[:length].decode("ascii")


@functools.cache
def _byte_table(alphabet: str) -> tuple[bytes, bytes]:
    """``bytes.translate`` arguments mapping a random byte to a character of ``alphabet`` (an
    ASCII one): byte % size, the bytes past the last whole multiple of size dropped."""
    size = len(alphabet)
    usable = 256 - 256 % size
    return bytes(ord(alphabet[byte % size]) for byte in range(256)), bytes(range(usable, 256))


def arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def parse_arn(value: str) -> dict | None:
    """Split an ARN into its parts; None if it is not one."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, region, account, resource = parts
    resource_type, _, resource_id = resource.partition("/")
    return {
        "partition": partition, "service": service, "region": region, "account": account,
        "resource": resource, "resource_type": resource_type, "resource_id": resource_id,
    }


# A region name as AWS spells them (us-east-1, us-gov-west-1, eu-isoe-west-1), at most as
# long as the store keeps. [inferred] from the published region names
_REGION_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
REGION_NAME_MAX_LENGTH = 32


def check_region(region: str) -> None:
    """Refuse a credential scope whose region is no region name, as AWS does (same answer on
    every store: nothing reaches the store that it could not keep)."""
    if len(region) > REGION_NAME_MAX_LENGTH or not _REGION_NAME.fullmatch(region):
        shown = region if len(region) <= REGION_NAME_MAX_LENGTH else region[:REGION_NAME_MAX_LENGTH] + "..."
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
        raise ServiceError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{shown}'.", status=403)
