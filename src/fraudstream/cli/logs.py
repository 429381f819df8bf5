"""Logging for the long-running commands (``produce``, ``process``, ``sink``, ``alerts``, ``dlq``).

One format for all of them, on stderr. When the command runs under the ``fraudstream`` group,
the group has configured logging already (``-v`` for debug) and only the masking is added.
"""

from __future__ import annotations

import logging
from typing import Final

__all__ = ["LOG_FORMAT", "setup_logging"]

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(*, mask: bool = True) -> None:
    """Log INFO and above to stderr. ``mask``: mask card and contact data (and IPv4
    addresses) in every message (see :mod:`fraudstream.alerts.masking`)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if mask:
        from fraudstream.alerts.masking import install_log_masking

        install_log_masking()
