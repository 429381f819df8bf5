"""Process-wide settings for long-running servers (the API, the processor)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Move everything built so far out of the garbage collector's sight.

    A full collection walks every tracked object: with the libraries' ~200k objects it stalled
    a prediction for 100-240 ms. What start-up built lives as long as the process, so a server
    calls this once, just before it starts serving (never from library code: tests build many
    apps and processors in one process).
    """
    gc.collect()
    gc.freeze()


__all__ = ["freeze_startup_objects"]
