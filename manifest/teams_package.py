"""Zip the Teams app package: `manifest.json` (with the bot's app id), `color.png`, `outline.png` at the root.

python -m manifest.teams_package dist/hotloop-teams.zip --bot-id <Microsoft App ID>
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path
from typing import Any

TEAMS_DIR = Path(__file__).resolve().parent / "teams"
ICONS = ("color.png", "outline.png")
PACKAGE_NAME = "hotloop-teams.zip"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
NIL_GUID = "00000000-0000-0000-0000-000000000000"  # the placeholder in manifest.json
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)  # reproducible archives


class BotIdError(ValueError):
    """No bot id, or not one Teams accepts."""


def check_bot_id(bot_id: str | None) -> str:
    """A package with the placeholder id uploads fine and then never reaches the bot: refuse it."""
    if not bot_id:
        raise BotIdError("no bot id: set HOTLOOP_TEAMS_APP_ID or pass --bot-id "
                         "(the bot's Microsoft App ID, a GUID)")
    if not _GUID.match(bot_id) or bot_id == NIL_GUID:
        raise BotIdError(f"the bot id must be the bot's Microsoft App ID, a GUID other than {NIL_GUID}; "
                         f"got {bot_id!r}")
    return bot_id


def load_manifest(*, bot_id: str | None = None) -> dict[str, Any]:
    """The manifest, with `bot_id` (a GUID: the bot's Microsoft App ID) substituted when given."""
    manifest: dict[str, Any] = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
    if bot_id is not None:
        check_bot_id(bot_id)
        for bot in manifest.get("bots", []):
            bot["botId"] = bot_id
    return manifest


def build_teams_package(out: Path, *, bot_id: str | None) -> Path:
    """Write the zip to `out` (or `out/hotloop-teams.zip` when `out` is a directory); return its path.
    Raises BotIdError, before writing anything, without a real bot id."""
    check_bot_id(bot_id)
    target = out / PACKAGE_NAME if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps(load_manifest(bot_id=bot_id), indent=2, ensure_ascii=False) + "\n"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _write(archive, "manifest.json", manifest.encode("utf-8"))
        for name in ICONS:
            _write(archive, name, (TEAMS_DIR / name).read_bytes())
    return target


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="zip file or directory to write into")
    parser.add_argument("--bot-id", help="the bot's Microsoft App ID (GUID)")
    args = parser.parse_args(argv)
    try:
        print(build_teams_package(args.out, bot_id=args.bot_id))
    except BotIdError as exc:
        parser.exit(2, f"{exc}\n")


if __name__ == "__main__":
    main()
