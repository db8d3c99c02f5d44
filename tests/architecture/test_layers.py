"""The layers hold: import-linter's contracts in pyproject.toml (hotloop → jobs → adapters → bot →
storage; bot/ and storage/ import no chat SDK or web framework; no import cycles) are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import REPO_ROOT


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout
