"""Alerts on decisions: e-mail (SMTP) and signed webhooks (incl. Slack-style chat), exactly one
per event and channel, with retries, digests and masked customer data.

The reference system's consumer e-mailed an alert for every blocked transaction. Here
:class:`AlertConsumer` (``fraudstream alerts``) reads ``processed_transactions`` in its own
consumer group and, for each decision whose outcome is in the configured set (default
``{"block"}``), queues a masked :class:`Alert` for every channel in the :class:`Ledger`
(``<home>/alerts.db``) before committing offsets; one :class:`ChannelWorker` thread per
channel delivers from there, retrying with backoff while its channel is down.

::

    from fraudstream.alerts import (AlertConsumer, AlertSettings, Ledger, SmtpChannel,
                                    SmtpSettings, WebhookChannel)
    channels = [
        SmtpChannel(SmtpSettings("smtp.example.com", "fraud@example.com", ("team@example.com",),
                                 security="starttls", username="u", password=secret)),
        WebhookChannel("https://hooks.example.com/fraud", secret=webhook_secret),
    ]
    with AlertConsumer(transport, Ledger.in_home(home), channels,
                       AlertSettings(dashboard_url="https://fraud.example.com")) as alerts:
        alerts.run()

Guarantees (see :mod:`fraudstream.alerts.ledger`): no alert is lost (offsets are committed
after the ledger holds the alert); one message per event id and channel across restarts,
replays and the processor's re-emissions, except that a crash in the ~1 ms between a channel
accepting a message and the ledger recording it re-sends that one message after restart (with
the same ``Idempotency-Key`` / ``Message-ID``). Receivers verify webhooks with
:func:`verify_signature`. Masking lives in :mod:`fraudstream.alerts.masking`.
"""

from __future__ import annotations

from fraudstream.alerts.channel import Channel, delivery_id
from fraudstream.alerts.consumer import AlertConsumer, AlertSettings
from fraudstream.alerts.dispatcher import ChannelWorker, DispatchSettings
from fraudstream.alerts.email import SmtpChannel, SmtpSettings
from fraudstream.alerts.errors import (
    AlertConfigError,
    AlertError,
    ChannelError,
    LedgerUnavailable,
    SignatureError,
)
from fraudstream.alerts.ledger import Delivery, Ledger
from fraudstream.alerts.masking import (
    MaskingFilter,
    install_log_masking,
    mask_card,
    mask_email,
    mask_ip,
    mask_name,
    mask_phone,
    mask_text,
)
from fraudstream.alerts.message import Alert, Reason, render_subject, render_text
from fraudstream.alerts.signing import (
    SIGNATURE_HEADER,
    sign,
    signature_header,
    verify_signature,
)
from fraudstream.alerts.webhook import PayloadTemplate, WebhookChannel

__all__ = [
    "SIGNATURE_HEADER",
    "Alert",
    "AlertConfigError",
    "AlertConsumer",
    "AlertError",
    "AlertSettings",
    "Channel",
    "ChannelError",
    "ChannelWorker",
    "Delivery",
    "DispatchSettings",
    "Ledger",
    "LedgerUnavailable",
    "MaskingFilter",
    "PayloadTemplate",
    "Reason",
    "SignatureError",
    "SmtpChannel",
    "SmtpSettings",
    "WebhookChannel",
    "delivery_id",
    "install_log_masking",
    "mask_card",
    "mask_email",
    "mask_ip",
    "mask_name",
    "mask_phone",
    "mask_text",
    "render_subject",
    "render_text",
    "sign",
    "signature_header",
    "verify_signature",
]
