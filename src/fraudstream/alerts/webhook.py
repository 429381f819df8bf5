"""Webhook alerts: an HTTP POST of JSON (httpx), signed with HMAC-SHA256 when a secret is set.

Every request carries ``Idempotency-Key`` / ``X-Fraudstream-Delivery`` (the delivery id: the
event id and channel, or a digest id) so a receiver can drop the one duplicate a crash may
cause, and ``X-Fraudstream-Signature`` (see :mod:`fraudstream.alerts.signing`). A 2xx answer
means delivered; anything else, a timeout or a network error is a
:class:`~fraudstream.alerts.errors.ChannelError` (retried with backoff).

The body comes from a :class:`PayloadTemplate`:

* ``json`` (default): ``{"type": "fraudstream.alert", "delivery_id": ..., "alert": {...}}``
  or ``{"type": "fraudstream.digest", "delivery_id": ..., "count": n, "alerts": [...]}``;
* ``slack``: ``{"text": "..."}``, what Slack, Mattermost, Rocket.Chat and similar incoming
  webhooks take;
* any JSON document whose strings use ``$text``, ``$subject``, ``$event_id``, ``$outcome``,
  ``$score``, ``$amount``, ``$currency``, ``$entity_id``, ``$link``, ``$count``,
  ``$delivery_id`` (values are substituted inside the parsed JSON, so they are always escaped
  correctly), e.g. ``{"content": "$text"}`` for Discord.

Webhook URLs of chat services are secrets themselves: only the scheme and host are logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Template
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson

from fraudstream.alerts.channel import Channel, delivery_id
from fraudstream.alerts.errors import AlertConfigError, ChannelError
from fraudstream.alerts.message import (
    Alert,
    digest_subject,
    digest_text,
    render_subject,
    render_text,
)
from fraudstream.alerts.signing import SIGNATURE_HEADER, signature_header

__all__ = ["BUILTIN_TEMPLATES", "PayloadTemplate", "WebhookChannel", "redact_webhook_url"]

BUILTIN_TEMPLATES: Final = ("json", "slack")
USER_AGENT: Final = "fraudstream-alerts/1"


def redact_webhook_url(url: str) -> str:
    """``scheme://host[:port]/...``: the path and query (often the secret) hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


def _variables(alerts: Sequence[Alert], delivery: str) -> dict[str, str]:
    first = alerts[0]
    single = len(alerts) == 1
    return {
        "text": render_text(first) if single else digest_text(alerts),
        "subject": render_subject(first) if single else digest_subject(alerts),
        "event_id": first.event_id,
        "outcome": first.outcome,
        "score": "" if first.score is None else f"{first.score:g}",
        "amount": "" if first.amount is None else f"{first.amount:.2f}",
        "currency": first.currency,
        "entity_id": first.entity_id,
        "link": first.link or "",
        "count": str(len(alerts)),
        "delivery_id": delivery,
    }


def _substitute(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return Template(node).safe_substitute(variables)
    if isinstance(node, list):
        return [_substitute(v, variables) for v in node]
    if isinstance(node, dict):
        return {k: _substitute(v, variables) for k, v in node.items()}
    return node


class PayloadTemplate:
    """Turns alerts into a request body (see the module docs)."""

    def __init__(self, spec: str = "json") -> None:
        self.spec = spec.strip() or "json"
        self._custom: Any = None
        if self.spec not in BUILTIN_TEMPLATES:
            try:
                self._custom = orjson.loads(self.spec)
            except orjson.JSONDecodeError:
                raise AlertConfigError(
                    "webhook template must be json, slack, or a JSON document using $text etc.",
                    [("webhook_template", "not JSON")],
                ) from None

    def render(self, alerts: Sequence[Alert], delivery: str) -> bytes:
        if self.spec == "json":
            if len(alerts) == 1:
                body: Any = {
                    "type": "fraudstream.alert",
                    "delivery_id": delivery,
                    "alert": alerts[0].to_dict(),
                }
            else:
                body = {
                    "type": "fraudstream.digest",
                    "delivery_id": delivery,
                    "count": len(alerts),
                    "alerts": [a.to_dict() for a in alerts],
                }
        elif self.spec == "slack":
            variables = _variables(alerts, delivery)
            body = {"text": f"*{variables['subject']}*\n```{variables['text']}```"}
        else:
            body = _substitute(self._custom, _variables(alerts, delivery))
        return orjson.dumps(body)


class WebhookChannel(Channel):
    """POSTs each alert (or digest) to ``url`` (see the module docs)."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        template: PayloadTemplate | str = "json",
        name: str = "webhook",
        timeout: float = 10.0,
        verify_tls: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AlertConfigError(
                "webhook URL must be http(s)://host/...", [("webhook_url", "bad URL")]
            )
        self.url = url
        self.name = name
        self._secret = secret
        self.template = (
            template if isinstance(template, PayloadTemplate) else PayloadTemplate(template)
        )
        self._client = httpx.Client(timeout=timeout, verify=verify_tls, follow_redirects=False)

    def describe(self) -> str:
        signed = ", signed" if self._secret else ""
        return f"webhook {redact_webhook_url(self.url)} ({self.template.spec}{signed})"

    def send(self, alerts: Sequence[Alert]) -> None:
        delivery = delivery_id(alerts, self.name)
        body = self.template.render(alerts, delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": delivery,
            "X-Fraudstream-Delivery": delivery,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = signature_header(self._secret, body)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{self.name}: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise ChannelError(f"{self.name}: HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
