"""The project's size rules (README, after the layer diagram): production files under 400 lines,
functions under 50, read from the source so a file or function that outgrows them fails here, not in
review. Alembic revisions are generated code and exempt; tests, benchmarks and scripts are not
production code."""

from __future__ import annotations

import ast
from pathlib import Path

from tests import REPO_ROOT

OURS = ("hotloop", "bot", "adapters", "jobs", "storage")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def _production_files() -> list[Path]:
    return sorted(p for folder in OURS for p in (REPO_ROOT / folder).rglob("*.py")
                  if "migrations" not in p.parts)


def test_there_is_code_to_check() -> None:
    assert len(_production_files()) > 100


def test_production_files_stay_under_400_lines() -> None:
    long = {str(p.relative_to(REPO_ROOT)): n for p in _production_files()
            if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert not long, long


def test_production_functions_stay_under_50_lines() -> None:
    long: dict[str, int] = {}
    for path in _production_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, long
