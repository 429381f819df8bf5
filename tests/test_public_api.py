"""Audit of the public surface: what each package exports, its exceptions, import side effects."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import fraudstream
from fraudstream.errors import FraudstreamError

#: Modules that import optional, separately installed software (PyFlink's own venv).
NEEDS_OTHER_VENV = ("fraudstream.stream.flink.job", "fraudstream.__main__")

#: Exceptions that are answers, not errors: each carries an HTTP status to a client and never
#: leaves the web layer that raised it.
HTTP_ANSWERS = {
    "fraudstream.api.endpoint.ClientGoneError",
    "fraudstream.api.errors.ApiError",
    "fraudstream.api.rest.RestError",
    "fraudstream.dashboard.web.CsrfRejected",
    "fraudstream.dashboard.web.LoginRequired",
    # Raised inside the rule parser and turned into a RuleSyntaxError with a position.
    "fraudstream.detector.rules.regex.PatternError",
}


def _modules() -> list[ModuleType]:
    names = [
        m.name
        for m in pkgutil.walk_packages(fraudstream.__path__, "fraudstream.")
        if not m.name.startswith(NEEDS_OTHER_VENV)
    ]
    return [importlib.import_module(name) for name in sorted(names)]


MODULES = _modules()
PACKAGES = [m for m in MODULES if hasattr(m, "__path__")] + [fraudstream]


def test_the_root_package_exports_exactly_its_documented_api() -> None:
    assert sorted(fraudstream.__all__) == [
        "Conflict",
        "FraudstreamError",
        "InvalidInput",
        "NotFound",
        "PRODUCT_CATEGORIES",
        "Transaction",
        "__version__",
        "parse_transaction",
    ]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda m: m.__name__)
def test_every_package_declares_what_it_exports_and_all_of_it_exists(package: ModuleType) -> None:
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{package.__name__} has no __all__"
    assert len(exported) == len(set(exported)), f"{package.__name__}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(package, name)]
    assert not missing, f"{package.__name__}.__all__ names missing attributes: {missing}"


def test_every_exception_descends_from_the_root_exception() -> None:
    strays = []
    for module in MODULES:
        for name, obj in vars(module).items():
            if not (inspect.isclass(obj) and issubclass(obj, BaseException)):
                continue
            if obj.__module__ != module.__name__:
                continue  # imported, audited where it is defined
            qualified = f"{module.__name__}.{name}"
            if not issubclass(obj, FraudstreamError) and qualified not in HTTP_ANSWERS:
                strays.append(qualified)
    assert not strays, f"exceptions outside FraudstreamError: {strays}"


def test_importing_everything_builds_nothing(tmp_path: Path) -> None:
    """No settings, engines, files or connections at import time: only calls build things."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    names = [m.__name__ for m in MODULES]
    script = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    env = {**os.environ, "HOME": str(home), "FRAUDSTREAM_HOME": str(home / "fs")}
    subprocess.run([sys.executable, "-c", script, *names], cwd=work, env=env, check=True)
    assert list(home.iterdir()) == []
    assert list(work.iterdir()) == []
