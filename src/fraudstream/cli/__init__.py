"""The ``fraudstream`` command line."""

from __future__ import annotations

from fraudstream.cli.main import cli, main

__all__ = ["cli", "main"]
