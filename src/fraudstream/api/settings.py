"""Who may call the server and the limits it enforces.

Two kinds of credentials, because the two APIs speak to different clients:

* AWS-style access key pairs (id -> secret) for the AFD wire protocol, checked with SigV4, so
  an unchanged ``boto3.client("frauddetector", ...)`` works;
* opaque API keys for the plain REST API (``Authorization: Bearer <key>`` or ``X-API-Key``).

Keys come from the environment (``FRAUDSTREAM_API_KEYS="AKID:SECRET,..."``,
``FRAUDSTREAM_REST_KEYS="key1,key2"``) and/or a JSON file
(``{"access_keys": {"AKID": "SECRET"}, "api_keys": ["key"]}``, path in
``FRAUDSTREAM_API_KEYS_FILE``). A server with no key at all refuses to start: an open fraud
API would let anyone probe the rules. Demo mode is the explicit exception: it invents a key
pair and an API key and hands them to whoever started the server.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from fraudstream.errors import FraudstreamError

if TYPE_CHECKING:
    from fraudstream.dashboard import DashboardConfig

ENV_ACCESS_KEYS = "FRAUDSTREAM_API_KEYS"
ENV_REST_KEYS = "FRAUDSTREAM_REST_KEYS"
ENV_KEYS_FILE = "FRAUDSTREAM_API_KEYS_FILE"

MAX_BODY_BYTES = 256 * 1024
#: A full REST batch (1,000 transaction records of ~650 bytes) does not fit in 256 KB.
MAX_BATCH_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 15 * 60

_ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9]{4,128}$")
_MIN_SECRET = 8
_MIN_API_KEY = 16


class SettingsError(FraudstreamError):
    """The server cannot start with this configuration (the message says how to fix it)."""


@dataclass(frozen=True)
class Settings:
    """Credentials and limits; ``repr`` never shows a secret."""

    access_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    api_keys: frozenset[str] = field(default_factory=frozenset, repr=False)
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch_body_bytes: int = MAX_BATCH_BODY_BYTES
    max_clock_skew_seconds: float = MAX_CLOCK_SKEW_SECONDS
    #: Requests handled at once before answering ThrottlingException (429).
    max_in_flight: int = 512
    #: Folders whose files API callers may name as data locations (training CSVs, batch
    #: input and output). Empty: callers can name no local file at all.
    data_roots: tuple[Path, ...] = ()
    demo: bool = False
    #: The dashboard at /dashboard (see fraudstream.dashboard); None: the APIs only.
    dashboard: DashboardConfig | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key_id, secret in self.access_keys.items():
            if not _ACCESS_KEY_ID.match(key_id):
                raise SettingsError(
                    f"access key id {key_id[:8]!r}... must be 4-128 letters and digits"
                )
            if len(secret) < _MIN_SECRET:
                raise SettingsError(
                    f"the secret of access key {key_id} is shorter than {_MIN_SECRET} characters"
                )
        for key in self.api_keys:
            if len(key) < _MIN_API_KEY or any(c.isspace() for c in key):
                raise SettingsError(
                    f"REST API keys must be at least {_MIN_API_KEY} characters without spaces"
                )

    def __repr__(self) -> str:
        return (
            f"Settings(access_keys=<{len(self.access_keys)} key(s): "
            f"{', '.join(sorted(self.access_keys))}>, api_keys=<{len(self.api_keys)} key(s)>, "
            f"max_body_bytes={self.max_body_bytes}, "
            f"data_roots={[str(p) for p in self.data_roots]}, demo={self.demo})"
        )

    @property
    def has_keys(self) -> bool:
        return bool(self.access_keys or self.api_keys)

    def require_keys(self) -> Settings:
        """Refuse to serve without credentials (an unauthenticated fraud API is a leak)."""
        if not self.has_keys:
            raise SettingsError(
                "no API keys configured: set FRAUDSTREAM_API_KEYS='AKID:SECRET' (SigV4, for "
                "boto3) and/or FRAUDSTREAM_REST_KEYS='key' (REST), or FRAUDSTREAM_API_KEYS_FILE, "
                "or start in demo mode to get generated keys"
            )
        return self

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        keys_file: Path | str | None = None,
        demo: bool = False,
        **limits: Any,
    ) -> Settings:
        """Keys from the environment and an optional file; demo mode adds generated keys."""
        env = os.environ if env is None else env
        access = dict(parse_access_keys(env.get(ENV_ACCESS_KEYS, "")))
        api = set(parse_api_keys(env.get(ENV_REST_KEYS, "")))
        path = keys_file or env.get(ENV_KEYS_FILE)
        if path:
            file_access, file_api = read_keys_file(Path(path))
            access.update(file_access)
            api.update(file_api)
        if demo:
            key_id, secret = generate_access_key()
            access[key_id] = secret
            api.add(generate_api_key())
        settings = cls(access_keys=access, api_keys=frozenset(api), demo=demo, **limits)
        return settings.require_keys()


def parse_access_keys(text: str) -> list[tuple[str, str]]:
    """``"AKID:SECRET,AKID2:SECRET2"`` as pairs; the error never repeats a secret."""
    pairs = []
    for n, item in enumerate(text.split(","), 1):
        item = item.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise SettingsError(
                f"{ENV_ACCESS_KEYS}: entry {n} must look like ACCESS_KEY_ID:SECRET_ACCESS_KEY"
            )
        pairs.append((key_id.strip(), secret.strip()))
    return pairs


def parse_api_keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def read_keys_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """``{"access_keys": {"AKID": "SECRET"}, "api_keys": ["key", ...]}``."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SettingsError(f"cannot read the keys file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise SettingsError(f"the keys file {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise SettingsError(f"the keys file {path} must hold a JSON object")
    access = data.get("access_keys", {})
    api = data.get("api_keys", [])
    if not isinstance(access, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in access.items()
    ):
        raise SettingsError(f"{path}: access_keys must map access key ids to secrets")
    if not isinstance(api, list) or not all(isinstance(k, str) for k in api):
        raise SettingsError(f"{path}: api_keys must be a list of strings")
    return dict(access), list(api)


def generate_access_key() -> tuple[str, str]:
    """An AWS-looking key pair (``AKIA`` + 16, and a 40-character secret) for demo mode."""
    alphabet = string.ascii_uppercase + string.digits
    key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_alphabet = string.ascii_letters + string.digits + "+/"
    return key_id, "".join(secrets.choice(secret_alphabet) for _ in range(40))


def generate_api_key() -> str:
    return "fs_" + secrets.token_urlsafe(32)
