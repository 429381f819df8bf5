"""Command groups and the error policy: bad input exits 2 with a clear message, never a trace."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from fraudstream.cli.output import err_console
from fraudstream.errors import FraudstreamError, InvalidInput, NotFound

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_HOME = ".fraudstream"


def home_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("FRAUDSTREAM_HOME", DEFAULT_HOME),
        show_default="$FRAUDSTREAM_HOME or .fraudstream",
        help="Folder of the embedded installation (registry, events, state, log).",
    )(func)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into one red line and a non-zero exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (InvalidInput, NotFound) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            sys.exit(2)
        except FraudstreamError as exc:
            err_console.print(f"[bold red]failed:[/] {exc}", highlight=False)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(package_name="fraudstream")
def cli(verbose: bool) -> None:
    """fraudstream: real-time payment fraud detection (an open Amazon Fraud Detector)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def register(*commands: Any) -> None:
    for command in commands:
        cli.add_command(command)


def main() -> None:
    # Imported here: these modules import this one (home_option, friendly_errors).
    from fraudstream.api.cli import api
    from fraudstream.cli import (
        alert_cmds,
        dlq_cmds,
        engine_cmds,
        flink_cmds,
        simulate_cmds,
        sink_cmds,
        stream_cmds,
    )
    from fraudstream.cli.demo import demo

    register(
        demo,
        *simulate_cmds.COMMANDS,
        *engine_cmds.COMMANDS,
        *stream_cmds.COMMANDS,
        *sink_cmds.COMMANDS,
        *alert_cmds.COMMANDS,
        *dlq_cmds.COMMANDS,
        *flink_cmds.COMMANDS,
        api,
    )
    cli(prog_name="fraudstream")
