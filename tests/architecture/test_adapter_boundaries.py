"""The chat adapters and the app factory are thin translators: they build no SQL statement and open
no session or transaction (bot/ and storage/queries/ do), import the modules that always ship
plainly, read bodies with adapters/http_body.py, and share the core's one `run_action`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import REPO_ROOT

ROOT = REPO_ROOT
THIN = sorted(
    [*ROOT.glob("adapters/slack/*.py"), *ROOT.glob("adapters/teams/*.py"),
     ROOT / "hotloop/app.py", ROOT / "hotloop/chats.py"]
)
NO_SQL_MODULES = ("sqlalchemy", "sqlmodel", "storage.models", "storage.queries")
SESSION_CALLS = {"sessions", "transaction", "begin"}  # a session's `execute` needs one of these first


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


@pytest.mark.parametrize("path", THIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_build_no_sql_and_open_no_session(path: Path) -> None:
    tree = _tree(path)
    for module, names in _imports(tree):
        assert not module.startswith(NO_SQL_MODULES), f"{module} imported"
        assert not (module == "storage.db" and "transaction" in names), "storage.db.transaction imported"
        assert module != "storage" or "queries" not in names, "storage.queries imported"
        assert module != "adapters.webhook_routes", "the body reader lives in adapters/http_body.py"
    calls = {_called(node) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not calls & SESSION_CALLS, calls & SESSION_CALLS


@pytest.mark.parametrize("path", THIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_that_always_ship_are_imported_plainly(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = ast.unparse(node.type)
            assert "ImportError" not in caught and "ModuleNotFoundError" not in caught, caught


def test_one_run_action_for_both_chat_adapters() -> None:
    defined = [
        str(path.relative_to(ROOT))
        for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("adapters/**/*.py")])
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == "run_action"
    ]
    assert defined == ["bot/actions/table.py"]
    for adapter in ("adapters/slack/listeners.py", "adapters/teams/bot.py"):
        imported = dict(_imports(_tree(ROOT / adapter)))
        assert "run_action" in imported.get("bot.actions.table", []), adapter
