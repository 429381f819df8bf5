"""Password hashes for dashboard users: scrypt from the standard library, no new dependency.

A hash is ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (base64), so operators can keep hashes, never
passwords, in ``FRAUDSTREAM_DASHBOARD_USERS`` or the users file. Make one with::

    python -m fraudstream.dashboard.passwords
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import sys
from typing import Final

__all__ = ["SCHEME", "generate_password", "hash_password", "is_hash", "verify_password"]

SCHEME: Final = "scrypt"
#: 16 MiB and about 50 ms per check: slow for a guesser, quick enough for a login.
_N: Final = 2**14
_R: Final = 8
_P: Final = 1
_KEY_BYTES: Final = 32
_MAXMEM: Final = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=size, maxmem=_MAXMEM
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the text form above."""
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, _N, _R, _P, _KEY_BYTES)
    return f"{SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def is_hash(text: str) -> bool:
    return text.startswith(SCHEME + "$") and text.count("$") == 5


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; a malformed hash never matches (and never raises)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _derive(
            password, base64.b64decode(salt, validate=True), int(n), int(r), int(p), len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: Checked against when the user is unknown, so a login takes as long either way.
_DUMMY: Final = hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend a password check's time for an unknown user (no user enumeration by timing)."""
    verify_password(password, _DUMMY)


def generate_password() -> str:
    """A one-time password for demo mode: 16 URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


def main() -> None:
    """Prompt for a password twice and print its hash."""
    first = getpass.getpass("password: ")
    if len(first) < 8:
        sys.exit("use at least 8 characters")
    if getpass.getpass("again: ") != first:
        sys.exit("the passwords differ")
    print(hash_password(first))


if __name__ == "__main__":
    main()
