"""Start the Flink job on a local mini-cluster, in a process of the Flink Python.

The job process runs ``python -m fraudstream.stream.flink.job`` under the Python found by
:func:`~fraudstream.stream.flink.deps.find_flink_deps` with this checkout's ``src`` first on
``PYTHONPATH``; its JVM and Python workers inherit that environment. Settings travel in a JSON
file readable by the owner only (the broker URL may hold a password), removed when the job ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Final

from fraudstream.errors import FraudstreamError
from fraudstream.stream.flink.deps import FlinkDeps, find_flink_deps, flink_dir
from fraudstream.stream.flink.settings import FlinkSettings
from fraudstream.stream.transport.url import ENV_VAR as BROKER_ENV

__all__ = ["STARTED_MARKER", "FlinkJobFailed", "LocalJob"]

#: PyFlink's (lower-case) switch between loopback and process workers for local jobs.
_WORKER_MODE_ENV: Final = "_python_worker_execution_mode"
#: The line the job prints once submitted (kept equal to ``job.STARTED_MARKER``).
STARTED_MARKER: Final = "fraudstream-flink: job running"


class FlinkJobFailed(FraudstreamError):
    """The job process exited with an error (its output is in the message)."""


class LocalJob:
    """A job process on the local mini-cluster. ``log`` receives its output (None: inherit);
    the JVM writes its own log into ``log_dir`` (default: ``<flink dir>/log``).

    Use as a context manager: leaving it stops the job (SIGTERM: the job is cancelled).
    """

    def __init__(
        self,
        settings: FlinkSettings,
        *,
        deps: FlinkDeps | None = None,
        log: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.deps = deps or find_flink_deps()
        if settings.python_executable is None:
            settings = replace(settings, python_executable=str(self.deps.python))
        self.settings = settings
        self.log = log
        self.log_dir = log_dir or flink_dir() / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="fraudstream-flink-")
        settings_file = Path(self._tmp.name) / "settings.json"
        settings.write(settings_file)
        cmd = [
            str(self.deps.python),
            "-m",
            "fraudstream.stream.flink.job",
            str(settings_file),
            ";".join(str(j) for j in self.deps.jars),
        ]
        self._out: IO[bytes] | None = log.open("ab") if log is not None else None
        self.proc = subprocess.Popen(
            cmd,
            stdout=self._out,
            stderr=subprocess.STDOUT if self._out is not None else None,
            env={
                **self._environment(),
                "FLINK_LOG_DIR": str(self.log_dir),
                # PyFlink runs every Python function of a local job inside this client process
                # ("loopback", one GIL for all operators) unless told otherwise; separate
                # worker processes are what a cluster runs, and they use the cores.
                _WORKER_MODE_ENV: os.environ.get(_WORKER_MODE_ENV, "process"),
            },
            start_new_session=True,  # our signals stay ours; we stop the job explicitly
        )
        self.started = time.monotonic()

    def _environment(self) -> dict[str, str]:
        """The job's environment, without the broker URL variable: the URL travels in the
        settings file, and PyFlink writes the Python workers' whole environment into the JVM
        log (process mode). Java's temporary files (a 46 MB table planner jar per run, Python
        worker folders) go to this job's temporary folder, removed even after a hard kill."""
        env = self.deps.env()
        env.pop(BROKER_ENV, None)
        java_tmp = Path(self._tmp.name) / "java"
        java_tmp.mkdir()
        options = env.get("JAVA_TOOL_OPTIONS", "")
        env["JAVA_TOOL_OPTIONS"] = f"{options} -Djava.io.tmpdir={java_tmp}".strip()
        return env

    def output(self) -> str:
        return "" if self.log is None else self.log.read_text(errors="replace")

    def wait_running(self, timeout: float = 120.0) -> float:
        """Seconds until the job was submitted; raises if the process died first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if STARTED_MARKER in self.output():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise FlinkJobFailed(
                    f"the Flink job exited ({self.proc.returncode}):\n{self.tail()}"
                )
            time.sleep(0.1)
        raise FlinkJobFailed(f"the Flink job did not start within {timeout:.0f}s:\n{self.tail()}")

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit (a bounded job ends on its own); raise on failure."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise FlinkJobFailed(
                f"the Flink job still runs after {timeout}s:\n{self.tail()}"
            ) from None
        if code != 0:
            raise FlinkJobFailed(f"the Flink job failed ({code}):\n{self.tail()}")
        return code

    def stop(self, timeout: float = 60.0) -> None:
        """Cancel the job (SIGTERM), then kill the process group if it does not exit."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reap_group()
        self.close()

    def _reap_group(self, grace: float = 15.0) -> None:
        """The JVM and Python workers are in the job's process group: none may outlive it.
        The JVM exits by itself once the client is gone; it gets ``grace`` seconds to do so
        (and remove its files), then SIGTERM, then SIGKILL."""
        for sig, wait in ((None, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not self.processes():
                    return
                time.sleep(0.1)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self._tmp.cleanup()

    def processes(self) -> dict[int, int]:
        """pid -> resident bytes of every process of the job (client, JVM, Python workers),
        from ``/proc`` (empty where there is none)."""
        out: dict[int, int] = {}
        page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                stat = (entry / "stat").read_text()
                statm = (entry / "statm").read_text().split()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if int(fields[2]) == self.proc.pid:  # process group id
                out[int(entry.name)] = int(statm[1]) * page
        return out

    def tail(self, chars: int = 6000) -> str:
        """The end of the job's output, and where the JVM's log is."""
        return f"{self.output()[-chars:]}\n(JVM log in {self.log_dir})"

    def __enter__(self) -> LocalJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
