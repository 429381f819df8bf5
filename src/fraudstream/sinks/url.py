"""Which sink to write to, in one string (``fraudstream sink --store``, ``$FRAUDSTREAM_STORE``).

* ``sqlite`` (default): ``<home>/decisions.db``; ``sqlite:PATH`` or ``sqlite:///abs/path.db``.
* ``postgres://user@host:5432/db?sslmode=require`` (or ``postgresql://``, or a libpq key/value
  string): :class:`~fraudstream.sinks.postgres.PostgresDecisionStore`. Keep the password in
  ``PGPASSWORD`` / ``~/.pgpass``; one written in the URL works but is masked in every log.
* ``opensearch://host:9200[,host2:9200]`` (HTTP) or ``opensearch+https://...`` (TLS), options
  ``index`` (default: the topic name), ``truth_index``, ``data_stream`` (true/false),
  ``verify_certs``, ``ca_certs``: :class:`~fraudstream.sinks.opensearch.OpenSearchSink`. The user
  and password come from ``FRAUDSTREAM_OPENSEARCH_USER`` / ``FRAUDSTREAM_OPENSEARCH_PASSWORD``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fraudstream.sinks.errors import SinkInputError

if TYPE_CHECKING:
    from fraudstream.sinks.base import DecisionSink, DecisionStore

__all__ = ["ENV_VAR", "open_sink", "open_store", "redact_url"]

ENV_VAR: Final = "FRAUDSTREAM_STORE"
MASK: Final = "***"
_KV_SECRET = re.compile(r"(\b(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_SECRET_KEY = re.compile(r"pass|secret|token|key", re.I)


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values masked, safe to log."""
    if "://" not in url:
        return _KV_SECRET.sub(lambda m: m.group(1) + MASK, url)
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{hosts}" if ":" in userinfo else f"{user}@{hosts}"
        query = "&".join(
            f"{k}={MASK if _SECRET_KEY.search(k) else v}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return f"{url.partition(':')[0][:16]}:<unparsable, hidden>"


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SinkInputError(f"option {name} must be true or false, got {value!r}")


def open_sink(
    spec: str | None, home: str | Path, *, topic: str = "processed_transactions"
) -> DecisionSink:
    """The sink a spec names (see the module docs); ``None``: ``$FRAUDSTREAM_STORE`` or sqlite."""
    spec = (spec or os.environ.get(ENV_VAR, "") or "sqlite").strip()
    scheme = spec.partition(":")[0].lower()
    if scheme.startswith("opensearch"):
        from fraudstream.sinks.opensearch import OpenSearchSink

        parts = urlsplit(spec)
        if parts.scheme not in ("opensearch", "opensearch+https"):
            raise SinkInputError("use opensearch://host:port or opensearch+https://host:port")
        options = dict(parse_qsl(parts.query))
        known = {"index", "truth_index", "data_stream", "verify_certs", "ca_certs", "template"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SinkInputError(f"unknown opensearch option(s): {', '.join(unknown)}")
        if "@" in parts.netloc:
            raise SinkInputError(
                "put OpenSearch credentials in FRAUDSTREAM_OPENSEARCH_USER/_PASSWORD, not the URL"
            )
        scheme_http = "https" if parts.scheme.endswith("https") else "http"
        hosts = [f"{scheme_http}://{h}" for h in parts.netloc.split(",") if h]
        if not hosts:
            raise SinkInputError("opensearch URL needs at least one host:port")
        user = os.environ.get("FRAUDSTREAM_OPENSEARCH_USER")
        password = os.environ.get("FRAUDSTREAM_OPENSEARCH_PASSWORD")
        return OpenSearchSink.connect(
            hosts,
            index=options.get("index") or topic,
            truth_index=options.get("truth_index"),
            data_stream=_flag(options.get("data_stream", "false"), "data_stream"),
            create_template=_flag(options.get("template", "true"), "template"),
            http_auth=(user, password) if user and password else None,
            verify_certs=_flag(options.get("verify_certs", "true"), "verify_certs"),
            ca_certs=options.get("ca_certs"),
        )
    return open_store(spec, home)


def open_store(spec: str | None, home: str | Path) -> DecisionStore:
    """A queryable store: ``sqlite[:PATH]`` or a PostgreSQL URL (see the module docs)."""
    spec = (spec or os.environ.get(ENV_VAR, "") or "sqlite").strip()
    scheme = spec.partition(":")[0].lower()
    if scheme == "sqlite":
        from fraudstream.sinks.sqlite import DEFAULT_FILENAME, SQLiteDecisionStore

        rest = spec.partition(":")[2]
        if rest.startswith("//"):
            rest = rest[2:]
        return SQLiteDecisionStore(Path(rest) if rest else Path(home) / DEFAULT_FILENAME)
    if scheme in ("postgres", "postgresql") or ("=" in spec and "://" not in spec):
        from fraudstream.sinks.postgres import PostgresDecisionStore

        return PostgresDecisionStore(spec)
    raise SinkInputError(
        f"unknown store {redact_url(spec)!r}: use sqlite[:PATH], postgres://... or opensearch://..."
    )
