"""SQL lives in storage/, and storage/ stands on its own (issue 12): read from the source files, so a
statement built outside storage/ or an import running the wrong way fails here, not in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests import REPO_ROOT

ROOT = REPO_ROOT
OURS = ("hotloop", "bot", "adapters", "jobs", "storage")
STATEMENT_NAMES = {"select", "update", "delete", "insert", "text", "func", "col", "and_", "or_", "not_"}
SESSION_CALLS = {"execute", "get", "scalar", "scalars", "delete"}  # ORM add/flush stay with bot/ workflows
def _files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from (p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every import, including those inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _statement_code(path: Path) -> list[str]:
    """Where `path` builds a statement or talks to a session itself."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {sorted(STATEMENT_NAMES & set(names))}"
        for line, module, names in _imports(path)
        if module.split(".")[0] in ("sqlalchemy", "sqlmodel") and STATEMENT_NAMES & set(names)
    ]
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        target = node.func.value
        if isinstance(target, ast.Name) and target.id == "session" and node.func.attr in SESSION_CALLS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls session.{node.func.attr}")
    return found


def _opens_sessions(path: Path) -> list[str]:
    """Where `path` opens a session or a transaction of its own."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ("transaction", "sessions", "session_factory"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()")
    return found


def test_storage_imports_nothing_of_ours() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _files("storage")
        for line, module, _ in _imports(path)
        if module.split(".")[0] in OURS and module.split(".")[0] != "storage"
    ]
    assert wrong == []


def test_jobs_and_adapters_neither_build_statements_nor_open_sessions() -> None:
    files = list(_files("jobs", "adapters"))
    wrong = [found for path in files for found in _statement_code(path) + _opens_sessions(path)]
    assert wrong == []


def test_bot_leaves_statements_to_storage() -> None:
    """bot/ may own a transaction; every statement it runs is a storage/queries function."""
    wrong = [found for path in _files("bot") for found in _statement_code(path)]
    assert wrong == []


def test_the_webhook_route_and_the_fetch_job_do_not_import_each_other() -> None:
    route, fetch = ROOT / "adapters/webhook_routes.py", ROOT / "jobs/fetch.py"
    assert [module for _, module, _ in _imports(route) if module.startswith("jobs")] == []
    assert [module for _, module, _ in _imports(fetch) if module.startswith("adapters.webhook")] == []
