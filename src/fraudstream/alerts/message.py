"""What an alert says: built once from a decision record, masked, then rendered per channel.

An :class:`Alert` holds only masked customer data (see :mod:`fraudstream.alerts.masking`), so
the ledger that queues it, the messages and the logs never hold a full card, e-mail address,
phone number, name or IP address. It carries what an analyst needs to act: event id, outcome,
score, amount and currency, entity, time, matched rules, top reasons, and a link to the event
in the dashboard (``{dashboard_url}/events/{event_id}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from urllib.parse import quote

from fraudstream.alerts.masking import masked_fields

__all__ = [
    "Alert",
    "Reason",
    "digest_subject",
    "digest_text",
    "event_link",
    "render_subject",
    "render_text",
]

#: Reasons shown per alert.
TOP_REASONS: Final = 5


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    value: float | None
    impact: float


@dataclass(frozen=True, slots=True)
class Alert:
    """One decision worth an alert, with customer data masked (see the module docs)."""

    event_id: str
    entity_id: str
    outcome: str
    score: float | None
    amount: float | None
    currency: str
    event_time: str
    decision_time: str | None
    category: str | None
    card_bin: str
    email: str
    phone: str
    name: str
    ip: str
    city: str | None
    state: str | None
    rules: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()
    detector: str | None = None
    link: str | None = None
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_record(
        cls,
        record: Mapping[str, Any],
        dashboard_url: str | None = None,
        source: str | None = None,
    ) -> Alert:
        """The alert of a ``processed_transactions`` record (its ``fd`` object holds the
        decision); ``source`` says where it was read (``topic[partition]@offset``)."""
        fd = record.get("fd") or {}
        scores = fd.get("scores") or {}
        score = next(iter(scores.values()), None) if isinstance(scores, Mapping) else None
        rules = tuple(
            str(r.get("rule_id"))
            for r in fd.get("rules") or ()
            if isinstance(r, Mapping) and r.get("rule_id")
        )
        reasons = tuple(
            Reason(
                str(r.get("feature")),
                _number(r.get("value")),
                _number(r.get("impact")) or 0.0,
            )
            for r in (fd.get("reasons") or ())[:TOP_REASONS]
            if isinstance(r, Mapping)
        )
        detector = fd.get("detector_id")
        if detector and fd.get("detector_version_id"):
            detector = f"{detector}:{fd['detector_version_id']}"
        event_id = str(record.get("event_id"))
        masked = masked_fields(record)
        return cls(
            event_id=event_id,
            entity_id=str(record.get("entity_id")),
            outcome=str(fd.get("outcome")),
            score=_number(score),
            amount=_number(record.get("transaction_amt")),
            currency=str(record.get("transaction_currency") or "").upper(),
            event_time=str(record.get("event_time")),
            decision_time=fd.get("decision_time"),
            category=record.get("product_category"),
            card_bin=masked["card_bin"],
            email=masked["email"],
            phone=masked["phone"],
            name=masked["name"],
            ip=masked["ip"],
            city=record.get("billing_city"),
            state=record.get("billing_state"),
            rules=rules,
            reasons=reasons,
            detector=detector,
            link=event_link(dashboard_url, event_id),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the webhook payload's ``alert`` and the ledger's stored form)."""
        data = asdict(self)
        data["rules"] = list(self.rules)
        data["reasons"] = [asdict(r) for r in self.reasons]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        values = dict(data)
        values["rules"] = tuple(values.get("rules") or ())
        values["reasons"] = tuple(Reason(**r) for r in values.get("reasons") or ())
        return cls(**values)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def event_link(dashboard_url: str | None, event_id: str) -> str | None:
    """``{dashboard_url}/events/{event_id}`` (the id URL-quoted), or None without a URL."""
    if not dashboard_url:
        return None
    return f"{dashboard_url.rstrip('/')}/events/{quote(event_id, safe='')}"


def _money(alert: Alert) -> str:
    return "?" if alert.amount is None else f"{alert.amount:,.2f} {alert.currency}".strip()


def _score(alert: Alert) -> str:
    return "?" if alert.score is None else f"{alert.score:g}"


def render_subject(alert: Alert) -> str:
    return (
        f"[fraudstream] {alert.outcome.upper()}: {_money(alert)} by {alert.entity_id}"
        f" (score {_score(alert)}, event {alert.event_id})"
    )


def render_text(alert: Alert) -> str:
    """The plain-text body of one alert (e-mail body, chat message)."""
    lines = [
        f"Decision: {alert.outcome.upper()}  (score {_score(alert)})",
        f"Event:    {alert.event_id}",
        f"Amount:   {_money(alert)}" + (f"  [{alert.category}]" if alert.category else ""),
        f"Entity:   {alert.entity_id}  ({alert.name})",
        f"Time:     {alert.event_time}",
        f"Card BIN: {alert.card_bin}",
        f"E-mail:   {alert.email}",
        f"Phone:    {alert.phone}",
        f"IP:       {alert.ip}",
    ]
    if alert.city or alert.state:
        lines.append(f"Billing:  {', '.join(p for p in (alert.city, alert.state) if p)}")
    lines.append(f"Rules:    {', '.join(alert.rules) or 'none'}")
    if alert.reasons:
        lines.append("Top reasons:")
        for reason in alert.reasons:
            value = "missing" if reason.value is None else f"{reason.value:g}"
            lines.append(f"  - {reason.feature} = {value} (impact {reason.impact:+.3f})")
    if alert.detector:
        lines.append(f"Detector: {alert.detector}")
    if alert.link:
        lines.append(f"Details:  {alert.link}")
    return "\n".join(lines) + "\n"


def digest_subject(alerts: Sequence[Alert]) -> str:
    outcomes = sorted({a.outcome for a in alerts})
    return f"[fraudstream] digest: {len(alerts)} {'/'.join(outcomes)} decisions"


def digest_text(alerts: Sequence[Alert]) -> str:
    """One line per alert, for when alerts come faster than the configured rate."""
    lines = [
        f"{len(alerts)} decisions raised alerts faster than the alert rate limit;"
        " they are listed here instead of one message each.",
        "",
    ]
    for alert in alerts:
        line = (
            f"- {alert.event_time}  {alert.outcome.upper():6}  {_money(alert):>16}"
            f"  score {_score(alert):>5}  {alert.entity_id}  event {alert.event_id}"
            f"  rules {','.join(alert.rules) or '-'}"
        )
        if alert.link:
            line += f"  {alert.link}"
        lines.append(line)
    return "\n".join(lines) + "\n"
