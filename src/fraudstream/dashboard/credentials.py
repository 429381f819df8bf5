"""Demo mode's one-time dashboard login: generated at start, printed, and kept in a 0600 file.

``fraudstream api serve --demo`` (and so ``fraudstream demo``) writes
``<home>/dashboard-credentials`` so whoever started the demo can log in even if the terminal
scrolled away; :func:`read_credentials` gives it back to other commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fraudstream.dashboard.passwords import generate_password

__all__ = ["CREDENTIALS_FILE", "DEMO_USER", "DemoCredentials", "read_credentials"]

DEMO_USER: Final = "analyst"
CREDENTIALS_FILE: Final = "dashboard-credentials"


@dataclass(frozen=True)
class DemoCredentials:
    url: str
    user: str
    password: str

    def __repr__(self) -> str:
        return f"DemoCredentials(url={self.url!r}, user={self.user!r}, password=<hidden>)"

    def text(self) -> str:
        return (
            "# fraudstream dashboard demo login (new password at every demo start)\n"
            f"url={self.url}\nuser={self.user}\npassword={self.password}\n"
        )

    @classmethod
    def generate(cls, url: str, user: str = DEMO_USER) -> DemoCredentials:
        return cls(url, user, generate_password())

    def write(self, home: Path) -> Path:
        """``<home>/dashboard-credentials``, readable by its owner only (0600)."""
        home.mkdir(parents=True, exist_ok=True)
        path = home / CREDENTIALS_FILE
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.text())
        return path


def read_credentials(home: Path) -> DemoCredentials | None:
    """The demo login written by the last demo start in ``home``, if any."""
    try:
        lines = (home / CREDENTIALS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    if not {"url", "user", "password"} <= values.keys():
        return None
    return DemoCredentials(values["url"], values["user"], values["password"])
