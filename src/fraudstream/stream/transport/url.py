"""Transport URLs: which event log to use, in one string (``FRAUDSTREAM_BROKER``).

* ``embedded:relative/path.db``, ``embedded:/abs/path.db`` or ``embedded:///abs/path.db``: an
  :class:`~fraudstream.stream.transport.embedded.EmbeddedTransport`. Options in the query:
  ``session_timeout``, ``linger``, ``busy_timeout`` (seconds), ``batch_size``, ``synchronous``.
  ``embedded:`` alone means :data:`DEFAULT_EMBEDDED_PATH`.
* ``kafka://host:9092,host2:9092?security.protocol=SASL_SSL&sasl.mechanism=PLAIN&...``: a
  :class:`~fraudstream.stream.transport.kafka.KafkaTransport`; every query parameter is a
  librdkafka property (percent-encode special characters). ``kafka://user:pass@host:9092`` is
  short for ``sasl.username`` / ``sasl.password``.

Secrets must never reach a log: show a URL with :func:`redacted`, which masks passwords,
secrets, tokens and keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fraudstream.stream.transport.errors import TransportInputError

if TYPE_CHECKING:
    from fraudstream.stream.transport.base import Transport

__all__ = [
    "DEFAULT_EMBEDDED_PATH",
    "DEFAULT_TRANSPORT_URL",
    "ENV_VAR",
    "TransportUrl",
    "is_secret_key",
    "open_transport",
    "parse_transport_url",
    "redacted",
    "transport_url_from_env",
]

ENV_VAR: Final = "FRAUDSTREAM_BROKER"
DEFAULT_EMBEDDED_PATH: Final = ".fraudstream/log.db"
DEFAULT_TRANSPORT_URL: Final = f"embedded:{DEFAULT_EMBEDDED_PATH}"
MASK: Final = "***"

_EMBEDDED_OPTIONS: Final[dict[str, type]] = {
    "session_timeout": float,
    "linger": float,
    "busy_timeout": float,
    "batch_size": int,
    "synchronous": str,
}
_SECRET_RE = re.compile(
    r"(password|passwd|secret|token|credential|jaas|\.pem$|\.key$|oauthbearer\.config|api\.?key)",
    re.IGNORECASE,
)
_HOST_PORT_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def is_secret_key(key: str) -> bool:
    """Whether a config key's value must be masked (``sasl.password``, ``ssl.key.pem``, ...)."""
    return bool(_SECRET_RE.search(key))


def _bad(url: str, why: str) -> TransportInputError:
    # Never echo the URL itself: it may hold a password.
    return TransportInputError(f"invalid transport URL: {why}", [("url", why)])


@dataclass(frozen=True)
class TransportUrl:
    """A parsed transport URL. ``repr`` and :meth:`redacted` never show secrets."""

    scheme: str  # "embedded" or "kafka"
    path: str | None = None  # embedded
    bootstrap: str | None = None  # kafka
    options: Mapping[str, str] = field(default_factory=dict, repr=False)

    def redacted(self) -> str:
        if self.scheme == "embedded":
            query = urlencode(self.options) if self.options else ""
            return f"embedded:{self.path}" + (f"?{query}" if query else "")
        assert self.bootstrap is not None
        return render_kafka_url(self.bootstrap, self.options)

    def __repr__(self) -> str:
        return f"TransportUrl({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()


def render_kafka_url(bootstrap: str, options: Mapping[str, str]) -> str:
    """``kafka://bootstrap?k=v...`` with secret values masked."""
    shown = {k: (MASK if is_secret_key(k) else v) for k, v in options.items()}
    query = urlencode(shown, safe="*/:,")
    return f"kafka://{bootstrap}" + (f"?{query}" if query else "")


def parse_transport_url(url: str) -> TransportUrl:
    """Parse and validate a transport URL (see the module docs). Raises TransportInputError."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(str(url), "empty")
    url = url.strip()
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in {"embedded", "kafka"}:
        raise _bad(url, "scheme must be 'embedded:' or 'kafka://'")
    rest, _, query = rest.partition("?")
    if "#" in query or "#" in rest:
        raise _bad(url, "fragments (#) are not allowed; percent-encode '#' as %23")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if not key:
            raise _bad(url, "empty query parameter name")
        if key in options:
            raise _bad(url, f"query parameter {key!r} given twice")
        options[key] = value
    if scheme == "embedded":
        return _parse_embedded(url, rest, options)
    return _parse_kafka(url, rest, options)


def _parse_embedded(url: str, rest: str, options: dict[str, str]) -> TransportUrl:
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host not in {"", "localhost"}:
            raise _bad(url, "embedded URLs take a path: embedded:///abs/path.db or embedded:rel.db")
        path = slash + path
    else:
        path = rest
    path = unquote(path) or DEFAULT_EMBEDDED_PATH
    for key, value in options.items():
        kind = _EMBEDDED_OPTIONS.get(key)
        if kind is None:
            raise _bad(url, f"unknown embedded option {key!r} (known: {sorted(_EMBEDDED_OPTIONS)})")
        if kind is not str:
            try:
                kind(value)
            except ValueError:
                raise _bad(url, f"option {key!r} must be a number") from None
    return TransportUrl("embedded", path=path, options=options)


def _parse_kafka(url: str, rest: str, options: dict[str, str]) -> TransportUrl:
    if not rest.startswith("//"):
        raise _bad(url, "use kafka://host:port[,host:port...]")
    netloc = rest[2:].rstrip("/")
    if "/" in netloc:
        raise _bad(url, "kafka URLs take no path")
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if not user:
            raise _bad(url, "empty user name before '@'")
        for key, value in (("sasl.username", unquote(user)), ("sasl.password", unquote(password))):
            if key in options:
                raise _bad(url, f"{key} given both before '@' and as a query parameter")
            if key == "sasl.username" or colon:
                options[key] = value
    if not hosts:
        raise _bad(url, "no bootstrap server")
    for server in hosts.split(","):
        match = _HOST_PORT_RE.match(server)
        if match is None or not 0 < int(match.group(2)) < 65536:
            raise _bad(url, f"bootstrap server {server!r} is not host:port")
    if "bootstrap.servers" in options:
        raise _bad(url, "give the bootstrap servers in the host part, not as bootstrap.servers")
    return TransportUrl("kafka", bootstrap=hosts, options=options)


def redacted(url: str) -> str:
    """``url`` with every secret masked, safe to log. Unparsable URLs are masked whole."""
    try:
        return parse_transport_url(url).redacted()
    except TransportInputError:
        scheme = url.partition(":")[0] if isinstance(url, str) else ""
        return f"{quote(scheme[:16])}:<unparsable, hidden>" if scheme else "<unparsable, hidden>"


def transport_url_from_env(default: str = DEFAULT_TRANSPORT_URL) -> str:
    """``$FRAUDSTREAM_BROKER`` if set and not blank, else ``default``."""
    value = os.environ.get(ENV_VAR, "").strip()
    return value or default


def open_transport(url: str | None = None) -> Transport:
    """Open the transport a URL names (``None``: :func:`transport_url_from_env`)."""
    parsed = parse_transport_url(transport_url_from_env() if url is None else url)
    if parsed.scheme == "embedded":
        from fraudstream.stream.transport.embedded import EmbeddedTransport

        assert parsed.path is not None
        opts = parsed.options
        kwargs: dict[str, float | int | str] = {}
        for key, value in opts.items():
            kwargs[key] = _EMBEDDED_OPTIONS[key](value)
        return EmbeddedTransport(parsed.path, **kwargs)  # type: ignore[arg-type]
    from fraudstream.stream.transport.kafka import KafkaTransport

    assert parsed.bootstrap is not None
    return KafkaTransport(parsed.bootstrap, dict(parsed.options))
