"""Where the Flink job's Python and Kafka connector jars are (``scripts/flink-deps.sh``).

PyFlink cannot share fraudstream's environment (apache-flink 2.3 and its apache-beam need older
numpy, pandas and redis than fraudstream pins), so the job runs under a Python of its own:
``$FRAUDSTREAM_FLINK_PYTHON``, else the current interpreter if it has PyFlink, else the venv the
script makes in ``$FRAUDSTREAM_FLINK_DIR`` (default ``~/.cache/fraudstream/flink``). The jars
come from ``$FRAUDSTREAM_FLINK_JARS`` (``;``-separated) or that directory's ``lib/``.
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fraudstream.errors import FraudstreamError

__all__ = [
    "DEPS_SCRIPT",
    "JARS",
    "FlinkDeps",
    "FlinkDepsMissing",
    "find_flink_deps",
    "flink_dir",
]

DEPS_SCRIPT: Final = "scripts/flink-deps.sh"
JARS: Final = ("flink-connector-kafka.jar", "kafka-clients.jar")
DIR_ENV: Final = "FRAUDSTREAM_FLINK_DIR"
PYTHON_ENV: Final = "FRAUDSTREAM_FLINK_PYTHON"
JARS_ENV: Final = "FRAUDSTREAM_FLINK_JARS"


class FlinkDepsMissing(FraudstreamError):
    """PyFlink or the Kafka connector jars are not installed."""


@dataclass(frozen=True)
class FlinkDeps:
    python: Path
    jars: tuple[Path, ...]
    #: That Python's site-packages: PyFlink's thread mode runs Python embedded in the JVM,
    #: which finds them only on PYTHONPATH.
    site_packages: tuple[Path, ...] = ()

    @property
    def src(self) -> Path:
        """The folder holding the ``fraudstream`` package (the job's PYTHONPATH)."""
        return Path(__file__).resolve().parents[3]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for the job process: this checkout's fraudstream first on the path."""
        env = dict(os.environ if base is None else base)
        paths = [
            str(self.src),
            *filter(None, env.get("PYTHONPATH", "").split(os.pathsep)),
            *(str(p) for p in self.site_packages),
        ]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        return env


def flink_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or Path.home() / ".cache" / "fraudstream" / "flink")


def _pyflink_site(python: Path) -> tuple[Path, ...] | None:
    """``python``'s site-packages if it has PyFlink, else None."""
    # Compare unresolved paths: a venv's python is a symlink to the same base interpreter.
    if Path(python).absolute() == Path(sys.executable).absolute():
        if importlib.util.find_spec("pyflink") is None:
            return None
        return tuple(Path(p) for p in site.getsitepackages())
    code = "import os, pyflink, site; print(os.pathsep.join(site.getsitepackages()))"
    try:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return tuple(Path(p) for p in done.stdout.strip().split(os.pathsep) if p)


def find_flink_deps() -> FlinkDeps:
    """The job's Python and jars, or :class:`FlinkDepsMissing` saying how to install them."""
    home = flink_dir()
    hint = f"run {DEPS_SCRIPT} (installs PyFlink and the Kafka connector jars into {home})"
    configured = os.environ.get(PYTHON_ENV)
    candidates = (
        [Path(configured)] if configured else [Path(sys.executable), home / "venv/bin/python"]
    )
    python, site_packages = None, None
    for candidate in candidates:
        site_packages = _pyflink_site(candidate) if candidate.exists() else None
        if site_packages is not None:
            python = candidate
            break
    if python is None or site_packages is None:
        where = configured or f"{sys.executable} or {home / 'venv/bin/python'}"
        raise FlinkDepsMissing(f"PyFlink (apache-flink 2.3.0) is not installed in {where}: {hint}")
    listed = os.environ.get(JARS_ENV)
    jars = (
        tuple(Path(p) for p in listed.split(";") if p)
        if listed
        else tuple(home / "lib" / j for j in JARS)
    )
    missing = [str(j) for j in jars if not j.is_file()]
    if missing or not jars:
        raise FlinkDepsMissing(f"Kafka connector jars missing ({', '.join(missing)}): {hint}")
    return FlinkDeps(python=python, jars=jars, site_packages=site_packages)
