"""hotloop's tests. `REPO_ROOT` is the checkout, wherever a test module sits below it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
