"""Masking of card and contact data, for alert messages and for logs.

Alert messages show just enough to recognise a case, never enough to reuse the data:

* card: only the BIN (the first 6-8 digits; :func:`mask_card` keeps the first 6 of a full
  number);
* e-mail: the first character of the local part, ``j***@example.com``;
* phone: every digit but the last two, ``***.***.**48`` (separators kept);
* names: initials, ``T. E.``;
* IP: the last IPv4 octet (``204.125.140.***``), the last 64 bits of IPv6.

:class:`MaskingFilter` masks e-mail addresses, IPv4 addresses and card-like digit runs in any
log record (a card number: 13-19 digits, spaces or dashes allowed, passing the Luhn check, so
timestamps and offsets stay readable); :func:`install_log_masking` puts it on the root
handlers. Names and phone numbers cannot be recognised in free text, so the alerting code never
logs them (it logs event ids).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MaskingFilter",
    "install_log_masking",
    "mask_card",
    "mask_email",
    "mask_ip",
    "mask_name",
    "mask_phone",
    "mask_text",
    "masked_fields",
]

MASK: Final = "***"

_EMAIL_RE: Final = re.compile(
    r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})"
)
_IPV4_RE: Final = re.compile(
    r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2})\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
)
_EXTENSION_RE: Final = re.compile(r"\s*(?:x|ext\.?|#)\s*\d+$", re.IGNORECASE)
_CARD_RE: Final = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def mask_email(value: Any) -> str:
    """``john.doe@example.com`` -> ``j***@example.com``."""
    text = str(value or "")
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return MASK
    return f"{local[0]}{MASK}@{domain}"


def mask_phone(value: Any) -> str:
    """Every digit but the last two replaced by ``*`` (``445.977.8048`` -> ``***.***.**48``);
    an extension (``x123``, ``ext. 123``) is dropped."""
    text = _EXTENSION_RE.sub("", str(value or "").strip())
    total = sum(c.isdigit() for c in text)
    if total < 3:
        return MASK
    seen = 0
    out = []
    for char in text:
        if char.isdigit():
            seen += 1
            out.append(char if seen > total - 2 else "*")
        else:
            out.append(char)
    return "".join(out)


def mask_name(value: Any) -> str:
    """``Todd Edwards`` -> ``T. E.`` (initials only)."""
    parts = [p for p in re.split(r"[\s\-]+", str(value or "")) if p and p[0].isalpha()]
    return " ".join(f"{p[0].upper()}." for p in parts) or MASK


def mask_ip(value: Any) -> str:
    """The last IPv4 octet (or the interface half of IPv6) masked."""
    try:
        ip = ipaddress.ip_address(str(value or "").strip())
    except ValueError:
        return MASK
    if isinstance(ip, ipaddress.IPv4Address):
        head = str(ip).rsplit(".", 1)[0]
        return f"{head}.{MASK}"
    groups = ip.exploded.split(":")[:4]
    return ":".join(g.lstrip("0") or "0" for g in groups) + f":{MASK}"


def mask_card(value: Any) -> str:
    """The BIN only: a 6-8 digit BIN as it is, a longer number as its first 6 digits."""
    digits = "".join(c for c in str(value or "") if c.isdigit())
    if len(digits) < 6:
        return MASK
    if len(digits) <= 8:
        return digits
    return f"{digits[:6]}{MASK}"


def mask_text(text: str) -> str:
    """Free text with e-mail addresses, IPv4 addresses and card numbers masked."""
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}{MASK}@{m.group(2)}", text)
    text = _IPV4_RE.sub(_mask_ipv4, text)
    return _CARD_RE.sub(_mask_pan, text)


def _mask_ipv4(match: re.Match[str]) -> str:
    """Loopback and the wildcard address are this machine, never a customer: operators need
    them readable in logs (metrics URLs, local brokers)."""
    if match.group().startswith("127.") or match.group() == "0.0.0.0":  # noqa: S104
        return match.group()
    return f"{match.group(1)}.{MASK}"


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_pan(match: re.Match[str]) -> str:
    """A 13-19 digit run that passes the Luhn check (a card number) -> its BIN."""
    digits = re.sub(r"\D", "", match.group())
    return f"{digits[:6]}{MASK}" if _luhn(digits) else match.group()


class MaskingFilter(logging.Filter):
    """Masks card and contact data in a log record's final message (and its exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            formatter = logging.Formatter()
            record.exc_text = mask_text(formatter.formatException(record.exc_info))
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Add a :class:`MaskingFilter` to every handler of ``logger`` (default: root), once."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


def masked_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """The contact and card fields of a transaction record, masked for display."""
    return {
        "card_bin": mask_card(record.get("card_bin")),
        "email": mask_email(record.get("email_address")),
        "phone": mask_phone(record.get("phone")),
        "name": mask_name(record.get("customer_name")),
        "ip": mask_ip(record.get("ip_address")),
    }
