"""Run the `hotloop` command line as a real subprocess, with an environment of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import REPO_ROOT
from tests.appserver import TEST_SECRET_KEY

REPO = REPO_ROOT


def cli_environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any HOTLOOP_ setting, then a key and a SQLite file in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLOOP_")}
    env.update(
        HOTLOOP_SECRET_KEY=TEST_SECRET_KEY,
        HOTLOOP_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        HOTLOOP_LOG_LEVEL="warning",
        HOTLOOP_ADMINS="U0ADMIN1",
        PYTHONPATH=str(REPO),
    )
    return env


def hotloop_argv(*args: str, umask: int | None = None) -> list[str]:
    """`umask`: the process's umask (0: nothing masked, so a file is only as private as hotloop makes it)."""
    prelude = f"import os; os.umask({umask:#o}); " if umask is not None else ""
    return [sys.executable, "-c", f"{prelude}from hotloop.cli import main; main()", *args]


def hotloop(
    *args: str, env: dict[str, str], cwd: Path, check: bool = True, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        hotloop_argv(*args, umask=umask), env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hotloop {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
