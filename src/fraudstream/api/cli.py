"""``fraudstream api serve``: run both APIs over the installation in ``--home``."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

import click

from fraudstream.api.app import create_app
from fraudstream.api.settings import Settings, SettingsError
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.output import console, err_console
from fraudstream.dashboard.cli import dashboard_options, open_dashboard
from fraudstream.detector import Engine
from fraudstream.runtime import freeze_startup_objects

log = logging.getLogger("fraudstream.api")

SWITCH_INTERVAL_SECONDS = 0.001


@click.group("api")
def api() -> None:
    """Serve the detector over HTTP (AFD protocol for boto3, and REST)."""


@api.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@home_option
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='JSON {"access_keys": {"AKID": "SECRET"}, "api_keys": ["..."]} (or the env vars '
    "FRAUDSTREAM_API_KEYS / FRAUDSTREAM_REST_KEYS / FRAUDSTREAM_API_KEYS_FILE).",
)
@click.option(
    "--data-dir",
    "data_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder whose files callers may name as data locations (default: HOME/data).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Generate a key pair and an API key and print them (never for production).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@dashboard_options
@friendly_errors
def serve(
    host: str,
    port: int,
    home: Path,
    keys_file: Path | None,
    data_dirs: tuple[Path, ...],
    demo: bool,
    access_log: bool,
    **dashboard: Any,
) -> None:
    """Serve until interrupted."""
    import uvicorn

    roots = data_dirs or (home / "data",)
    try:
        settings = Settings.load(keys_file=keys_file, demo=demo, data_roots=tuple(roots))
    except SettingsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
    board = open_dashboard(home, f"http://{host}:{port}", demo=demo, **dashboard)
    engine = Engine.open(home)
    try:
        settings = dataclasses.replace(settings, dashboard=board.config)
        if demo:
            key_id, secret = next(iter(settings.access_keys.items()))
            api_key = next(iter(settings.api_keys))
            console.print(
                "[bold yellow]demo mode[/]: generated credentials (shown once, not stored)\n"
                f"  aws_access_key_id={key_id}\n  aws_secret_access_key={secret}\n"
                f"  REST: Authorization: Bearer {api_key}",
                highlight=False,
            )
        console.print(
            f"AFD endpoint_url=http://{host}:{port}  REST docs: http://{host}:{port}/docs",
            highlight=False,
        )
        # Predictions run on the event loop; background writers (event flushes, training)
        # would otherwise hold the GIL for up to 5 ms at a time and show up in p99 latency.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        app = create_app(engine, settings)
        freeze_startup_objects()
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=access_log,
            log_level="info",
            ws="none",
            lifespan="on",
        )
    finally:
        engine.close()
        board.close()
