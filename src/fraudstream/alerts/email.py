"""E-mail alerts over SMTP (stdlib :mod:`smtplib`): plain, STARTTLS or implicit TLS, with login.

The connection is kept open between messages (a new one costs five round trips, plus TLS and
login) and closed after ``IDLE_CLOSE`` seconds without use; if the server dropped a reused
connection, the message is tried once more on a fresh one. The server has accepted the
message when ``send_message`` returns (its ``250`` after ``DATA``); any refusal, timeout or
network error is a :class:`~fraudstream.alerts.errors.ChannelError` (retried by the
dispatcher). The password is only handed to ``login`` and never appears in a message or log.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Final, Literal

from fraudstream.alerts.channel import Channel, delivery_id
from fraudstream.alerts.errors import AlertConfigError, ChannelError
from fraudstream.alerts.message import (
    Alert,
    digest_subject,
    digest_text,
    render_subject,
    render_text,
)

__all__ = ["SmtpChannel", "SmtpSettings"]

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
SECURITIES: Final = ("none", "starttls", "ssl")
#: The EHLO name. smtplib's default, ``socket.getfqdn()``, is a DNS lookup on every connection
#: (hundreds of ms where reverse DNS is slow); the host name is enough for EHLO.
_LOCAL_HOSTNAME: Final = socket.gethostname() or "localhost"
#: Seconds a connection may stay unused before it is closed instead of reused (servers
#: commonly drop idle clients after 5 minutes).
IDLE_CLOSE: Final = 60.0


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; ``password`` is excluded from ``repr``."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 0  # 0: 25, 587 with STARTTLS, 465 with SSL
    security: Security = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not self.host:
            raise AlertConfigError("SMTP host is required", [("smtp_host", "missing")])
        if self.security not in SECURITIES:
            raise AlertConfigError(f"SMTP security must be one of {SECURITIES}")
        if not self.sender or "@" not in self.sender:
            raise AlertConfigError("SMTP sender must be an e-mail address", [("from", "bad")])
        if not self.recipients or not all("@" in r for r in self.recipients):
            raise AlertConfigError("SMTP needs at least one recipient address", [("to", "bad")])
        if not 0 <= self.port <= 65535:
            raise AlertConfigError(f"bad SMTP port {self.port}")
        if self.password and not self.username:
            raise AlertConfigError("an SMTP password needs a username")

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]


class SmtpChannel(Channel):
    """Sends each alert (or digest) as one e-mail to every recipient."""

    def __init__(self, settings: SmtpSettings, name: str = "email") -> None:
        self.settings = settings
        self.name = name
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0

    def describe(self) -> str:
        s = self.settings
        login = f" as {s.username}" if s.username else ""
        return f"smtp {s.host}:{s.effective_port} ({s.security}){login} to {len(s.recipients)}"

    def build(self, alerts: Sequence[Alert]) -> EmailMessage:
        """The e-mail for one alert or a digest (a stable Message-ID per delivery)."""
        msg = EmailMessage()
        if len(alerts) == 1:
            msg["Subject"] = render_subject(alerts[0])
            msg.set_content(render_text(alerts[0]))
            msg["X-Fraudstream-Event-Id"] = alerts[0].event_id
        else:
            msg["Subject"] = digest_subject(alerts)
            msg.set_content(digest_text(alerts))
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.settings.recipients)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = f"<{delivery_id(alerts, self.name)}@fraudstream>"
        return msg

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if s.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host,
                s.effective_port,
                local_hostname=_LOCAL_HOSTNAME,
                timeout=s.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                s.host, s.effective_port, local_hostname=_LOCAL_HOSTNAME, timeout=s.timeout
            )
        try:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, alerts: Sequence[Alert]) -> None:
        s = self.settings
        msg = self.build(alerts)
        try:
            try:
                reused = self._smtp is not None and time.monotonic() - self._used < IDLE_CLOSE
                if self._smtp is not None and not reused:
                    self.close()
                if self._smtp is None:
                    self._smtp = self._connect()
                try:
                    refused = self._smtp.send_message(msg, s.sender, list(s.recipients))
                except (smtplib.SMTPServerDisconnected, ConnectionError):
                    if not reused:
                        raise
                    # The server dropped the idle connection: one fresh attempt.
                    self.close()
                    self._smtp = self._connect()
                    refused = self._smtp.send_message(msg, s.sender, list(s.recipients))
                self._used = time.monotonic()
            except BaseException:
                self.close()
                raise
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(f"{self.name}: SMTP {exc.smtp_code} refused") from None
        except smtplib.SMTPRecipientsRefused:
            raise ChannelError(f"{self.name}: every recipient was refused") from None
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise ChannelError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if refused:
            # Accepted for the others: retrying would send it to them twice, so it counts as
            # delivered and the refusal is logged for the operator.
            log.warning(
                "%s: %d of %d recipients refused", self.name, len(refused), len(s.recipients)
            )

    def close(self) -> None:
        """Say QUIT on the open connection, if any."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
