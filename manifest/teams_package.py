"""Zip the Teams app package: `manifest.json` (with the bot's app id), `color.png`, `outline.png` at the root.

python -m manifest.teams_package dist/hotloop-teams.zip --bot-id <Microsoft App ID> \
    --public-url https://hotloop.example.com

The manifest's "Alerts" tab (a personal static tab) opens the dashboard: `contentUrl` is the public
address + /app/tab (the page framed inside Teams), `websiteUrl` + /app ("open in browser"), and the
public host joins `validDomains`. Both come from HOTLOOP_PUBLIC_URL; without it, or with an address
Teams would not load in a tab (not https), nothing is written.
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TEAMS_DIR = Path(__file__).resolve().parent / "teams"
ICONS = ("color.png", "outline.png")
PACKAGE_NAME = "hotloop-teams.zip"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
NIL_GUID = "00000000-0000-0000-0000-000000000000"  # the placeholder in manifest.json
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)  # reproducible archives
PLACEHOLDER_URL = "https://hotloop.example.com"  # the public address in manifest.json's tab and domains
TAB_PATH = "/app/tab"  # the tab's page (adapters/web/login.py), framed by Teams
DASHBOARD_PATH = "/app"


class PackageError(ValueError):
    """The package cannot be made: a setting is missing or wrong."""


class BotIdError(PackageError):
    """No bot id, or not one Teams accepts."""


class PublicUrlError(PackageError):
    """No public address, or not one a Teams tab can load."""


def check_bot_id(bot_id: str | None) -> str:
    """A package with the placeholder id uploads fine and then never reaches the bot: refuse it."""
    if not bot_id:
        raise BotIdError("no bot id: set HOTLOOP_TEAMS_APP_ID or pass --bot-id "
                         "(the bot's Microsoft App ID, a GUID)")
    if not _GUID.match(bot_id) or bot_id == NIL_GUID:
        raise BotIdError(f"the bot id must be the bot's Microsoft App ID, a GUID other than {NIL_GUID}; "
                         f"got {bot_id!r}")
    return bot_id


def check_public_url(public_url: str | None) -> str:
    """The public address without a trailing slash: https (Teams loads tabs over https only), a host,
    no query or fragment."""
    if not public_url or not public_url.strip():
        raise PublicUrlError("no public address: set HOTLOOP_PUBLIC_URL (e.g. https://hotloop.example.com) "
                             "or pass --public-url; the Teams tab opens the dashboard there")
    parts = urlsplit(public_url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise PublicUrlError("HOTLOOP_PUBLIC_URL must be an https:// address with a host and no query, "
                             "e.g. https://hotloop.example.com (Teams loads tabs over https only); "
                             f"got {public_url!r}")
    return public_url.strip().rstrip("/")


def _with_public_url(manifest: dict[str, Any], public_url: str) -> None:
    base = check_public_url(public_url)
    for tab in manifest.get("staticTabs", []):
        for field in ("contentUrl", "websiteUrl"):
            if str(tab.get(field, "")).startswith(PLACEHOLDER_URL):
                tab[field] = base + tab[field][len(PLACEHOLDER_URL):]
    host = urlsplit(base).netloc.lower()
    placeholder = urlsplit(PLACEHOLDER_URL).netloc
    domains = [host if domain == placeholder else domain for domain in manifest.get("validDomains", [])]
    manifest["validDomains"] = list(dict.fromkeys(domains))  # the bot's domain and ours, once each


def load_manifest(*, bot_id: str | None = None, public_url: str | None = None) -> dict[str, Any]:
    """The manifest, with `bot_id` (a GUID: the bot's Microsoft App ID) and `public_url` (the tab's
    address) substituted when given."""
    manifest: dict[str, Any] = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
    if bot_id is not None:
        check_bot_id(bot_id)
        for bot in manifest.get("bots", []):
            bot["botId"] = bot_id
    if public_url is not None:
        _with_public_url(manifest, public_url)
    return manifest


def build_teams_package(out: Path, *, bot_id: str | None, public_url: str | None) -> Path:
    """Write the zip to `out` (or `out/hotloop-teams.zip` when `out` is a directory); return its path.
    Raises BotIdError or PublicUrlError, before writing anything, without a real bot id or an https
    public address."""
    check_bot_id(bot_id)
    check_public_url(public_url)
    target = out / PACKAGE_NAME if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps(load_manifest(bot_id=bot_id, public_url=public_url), indent=2,
                          ensure_ascii=False) + "\n"
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
    parser.add_argument("--public-url", help="hotloop's public https address (the dashboard's origin)")
    args = parser.parse_args(argv)
    try:
        print(build_teams_package(args.out, bot_id=args.bot_id, public_url=args.public_url))
    except PackageError as exc:
        parser.exit(2, f"{exc}\n")


if __name__ == "__main__":
    main()
