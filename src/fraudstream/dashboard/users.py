"""Who may log in to the dashboard: users and password hashes configured by the operator.

Sources (all optional; later ones add to or replace earlier names):

* ``FRAUDSTREAM_DASHBOARD_USERS="alice:scrypt$...,bob:scrypt$..."``;
* a JSON file ``{"users": {"alice": "scrypt$..."}}`` (``FRAUDSTREAM_DASHBOARD_USERS_FILE`` or
  ``--users-file``);
* demo mode adds a user with a generated one-time password.

A value that is not a hash is taken as a plain password (handy in a demo, logged as a warning)
and hashed at once, so the process never keeps a password.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from fraudstream.dashboard.passwords import burn_time, hash_password, is_hash, verify_password
from fraudstream.errors import InvalidInput

__all__ = ["ENV_USERS", "ENV_USERS_FILE", "UserDirectory", "UsersError"]

log = logging.getLogger("fraudstream.dashboard")

ENV_USERS: Final = "FRAUDSTREAM_DASHBOARD_USERS"
ENV_USERS_FILE: Final = "FRAUDSTREAM_DASHBOARD_USERS_FILE"
_NAME: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class UsersError(InvalidInput):
    """The users configuration is unusable (the message says where; never a password)."""


def _check_name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise UsersError(f"{where}: user name {name[:64]!r} must be 1-64 letters, digits or _.@-")
    return name


def _as_hash(name: str, value: str, where: str) -> str:
    if is_hash(value):
        return value
    if not value:
        raise UsersError(f"{where}: user {name!r} has an empty password")
    log.warning("%s: user %s has a plain-text password; store a hash instead", where, name)
    return hash_password(value)


@dataclass(frozen=True)
class UserDirectory:
    """User name -> password hash; ``repr`` shows names only."""

    hashes: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"UserDirectory(users={sorted(self.hashes)})"

    def __bool__(self) -> bool:
        return bool(self.hashes)

    @property
    def names(self) -> list[str]:
        return sorted(self.hashes)

    def authenticate(self, name: str, password: str) -> bool:
        """True for a known user with this password; same cost for unknown users."""
        encoded = self.hashes.get(name)
        if encoded is None:
            burn_time(password)
            return False
        return verify_password(password, encoded)

    def with_user(self, name: str, password: str) -> UserDirectory:
        _check_name(name, "user")
        return UserDirectory({**self.hashes, name: hash_password(password)})

    @classmethod
    def parse(cls, text: str, where: str = ENV_USERS) -> UserDirectory:
        """``name:hash-or-password`` entries separated by commas."""
        users: dict[str, str] = {}
        for n, item in enumerate(text.split(","), 1):
            item = item.strip()
            if not item:
                continue
            name, sep, secret = item.partition(":")
            if not sep:
                raise UsersError(f"{where}: entry {n} must look like NAME:PASSWORD_HASH")
            name = _check_name(name.strip(), where)
            users[name] = _as_hash(name, secret.strip(), where)
        return cls(users)

    @classmethod
    def read(cls, path: Path) -> UserDirectory:
        """A JSON file ``{"users": {"name": "scrypt$..."}}``."""
        try:
            data = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise UsersError(f"cannot read the users file {path}: {exc.strerror}") from None
        except orjson.JSONDecodeError:
            raise UsersError(f"the users file {path} is not valid JSON") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()
        ):
            raise UsersError(f'{path}: expected {{"users": {{"name": "password hash"}}}}')
        where = str(path)
        return cls({_check_name(k, where): _as_hash(k, v, where) for k, v in users.items()})

    @classmethod
    def load(
        cls, *, env: Mapping[str, str] | None = None, users_file: Path | None = None
    ) -> UserDirectory:
        """Users from the environment and a file (the file wins for a name in both)."""
        env = os.environ if env is None else env
        users = dict(cls.parse(env.get(ENV_USERS, "")).hashes)
        path = users_file or (Path(env[ENV_USERS_FILE]) if env.get(ENV_USERS_FILE) else None)
        if path is not None:
            users.update(cls.read(path).hashes)
        return cls(users)
