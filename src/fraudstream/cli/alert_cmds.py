"""``fraudstream alerts``: e-mail and webhook alerts for blocked (or other) decisions.

Every setting has an environment variable (shown in ``--help``); secrets are read from the
environment only, never from options (which leak into shell history and ``ps``):
``FRAUDSTREAM_SMTP_PASSWORD``, ``FRAUDSTREAM_WEBHOOK_SECRET`` and
``FRAUDSTREAM_SLACK_WEBHOOK_URL`` (a chat webhook URL is itself the secret). Register with
``register(*alert_cmds.COMMANDS)``; ``python -m fraudstream.cli.alert_cmds alerts ...`` runs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import click

from fraudstream.cli.logs import setup_logging
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.stream_cmds import (
    broker_option,
    broker_url,
    standalone,
    stop_on_signals,
    topic_options,
)

__all__ = ["COMMANDS", "alerts"]

log = logging.getLogger("fraudstream.alerts")


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Options given several times and/or comma-separated."""
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.command()
@broker_option
@home_option
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    envvar="FRAUDSTREAM_ALERT_OUTCOMES",
    help="Outcome that raises an alert (repeat or comma-separate; default block).",
)
@click.option("--dashboard-url", envvar="FRAUDSTREAM_DASHBOARD_URL", help="Base URL of links.")
@click.option("--smtp-host", envvar="FRAUDSTREAM_SMTP_HOST", help="SMTP server (e-mail channel).")
@click.option(
    "--smtp-port",
    type=click.IntRange(0, 65535),
    default=0,
    envvar="FRAUDSTREAM_SMTP_PORT",
    help="SMTP port (default 25, 587 with starttls, 465 with ssl).",
)
@click.option(
    "--smtp-security",
    type=click.Choice(["none", "starttls", "ssl"]),
    default="none",
    show_default=True,
    envvar="FRAUDSTREAM_SMTP_SECURITY",
)
@click.option("--smtp-user", envvar="FRAUDSTREAM_SMTP_USER",
              help="SMTP login (password: $FRAUDSTREAM_SMTP_PASSWORD).")  # fmt: skip
@click.option("--smtp-from", envvar="FRAUDSTREAM_SMTP_FROM", help="Sender address.")
@click.option("--smtp-to", multiple=True, envvar="FRAUDSTREAM_SMTP_TO",
              help="Recipient (repeat or comma-separate).")  # fmt: skip
@click.option("--smtp-insecure", is_flag=True, help="Do not verify the SMTP TLS certificate.")
@click.option("--webhook-url", envvar="FRAUDSTREAM_WEBHOOK_URL",
              help="POST JSON alerts here (HMAC secret: $FRAUDSTREAM_WEBHOOK_SECRET).")  # fmt: skip
@click.option(
    "--webhook-template",
    default="json",
    show_default=True,
    envvar="FRAUDSTREAM_WEBHOOK_TEMPLATE",
    help="json, slack, or a JSON document using $text, $event_id, $link...",
)
@click.option(
    "--digest-rate",
    type=click.IntRange(min=1),
    envvar="FRAUDSTREAM_ALERT_DIGEST_RATE",
    help="Above this many messages per minute per channel, send one digest instead.",
)
@click.option("--digest-every", default=60.0, show_default=True, type=click.FloatRange(1))
@click.option("--group", default="fraudstream-alerts", show_default=True, help="Consumer group.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--retry-initial", default=1.0, show_default=True, type=click.FloatRange(0.01))
@click.option("--retry-max", default=300.0, show_default=True, type=click.FloatRange(0.01))
@click.option("--lease", default=60.0, show_default=True, type=click.FloatRange(1),
              help="Seconds after which an unconfirmed send is retried.")  # fmt: skip
@click.option("--max-records", type=click.IntRange(min=1), help="Stop after this many decisions.")
@click.option(
    "--until-idle",
    type=float,
    help="Stop after this many seconds without input, once all alerts are sent.",
)
@topic_options
@friendly_errors
def alerts(
    broker: str | None,
    home: Path,
    outcomes: tuple[str, ...],
    dashboard_url: str | None,
    smtp_host: str | None,
    smtp_port: int,
    smtp_security: str,
    smtp_user: str | None,
    smtp_from: str | None,
    smtp_to: tuple[str, ...],
    smtp_insecure: bool,
    webhook_url: str | None,
    webhook_template: str,
    digest_rate: int | None,
    digest_every: float,
    group: str,
    batch_size: int,
    retry_initial: float,
    retry_max: float,
    lease: float,
    max_records: int | None,
    until_idle: float | None,
    partitions: int,
    topic_prefix: str,
) -> None:
    """Alert by e-mail and webhook on every decision with an alerting outcome."""
    from fraudstream.alerts import (
        AlertConfigError,
        AlertConsumer,
        AlertSettings,
        Channel,
        DispatchSettings,
        Ledger,
        SmtpChannel,
        SmtpSettings,
        WebhookChannel,
    )
    from fraudstream.stream.topics import Topics, ensure_topics
    from fraudstream.stream.transport import open_transport

    setup_logging()
    channels: list[Channel] = []
    if smtp_host:
        channels.append(
            SmtpChannel(
                SmtpSettings(
                    host=smtp_host,
                    port=smtp_port,
                    security=smtp_security,  # type: ignore[arg-type]
                    sender=smtp_from or "",
                    recipients=_split(smtp_to),
                    username=smtp_user,
                    password=os.environ.get("FRAUDSTREAM_SMTP_PASSWORD") or None,
                    verify_tls=not smtp_insecure,
                )
            )
        )
    if webhook_url:
        channels.append(
            WebhookChannel(
                webhook_url,
                secret=os.environ.get("FRAUDSTREAM_WEBHOOK_SECRET") or None,
                template=webhook_template,
            )
        )
    slack = os.environ.get("FRAUDSTREAM_SLACK_WEBHOOK_URL")
    if slack:
        channels.append(WebhookChannel(slack, template="slack", name="slack"))
    if not channels:
        raise AlertConfigError(
            "no alert channel: give --smtp-host (with --smtp-from/--smtp-to) and/or"
            " --webhook-url, or set FRAUDSTREAM_SLACK_WEBHOOK_URL"
        )
    settings = AlertSettings(
        group_id=group,
        batch_size=batch_size,
        outcomes=frozenset(_split(outcomes) or ("block",)),
        dashboard_url=dashboard_url,
    )
    dispatch = DispatchSettings(
        lease=lease,
        retry_initial=retry_initial,
        retry_max=max(retry_max, retry_initial),
        digest_rate=digest_rate,
        digest_every=digest_every,
    )
    topics = Topics.prefixed(topic_prefix)
    with contextlib.ExitStack() as stack:
        transport = stack.enter_context(open_transport(broker_url(broker, home)))
        ensure_topics(transport, partitions, topics)
        ledger = Ledger.in_home(home)
        stack.callback(ledger.close)
        consumer = stack.enter_context(
            AlertConsumer(transport, ledger, channels, settings, dispatch=dispatch, topics=topics)
        )
        with stop_on_signals(consumer.stop):
            consumer.run(max_records=max_records, idle_timeout=until_idle)
            if until_idle is not None and not consumer.stop_event.is_set():
                # Batch use: finish delivering what was queued before exiting.
                while not consumer.wait_delivered(1.0) and not consumer.stop_event.is_set():
                    pass
        counts = ledger.counts()
    sent = sum(n for (_, state), n in counts.items() if state == "sent")
    click.echo(
        f"alerts: {consumer.consumed} decisions read, {consumer.queued} alerts queued,"
        f" {sent} delivered in total"
    )


COMMANDS = (alerts,)


if __name__ == "__main__":
    standalone("fraudstream alerts.", COMMANDS)()
