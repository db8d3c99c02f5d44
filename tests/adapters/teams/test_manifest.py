"""The Teams app manifest, its icons and the zipped package."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from manifest.teams.make_icons import color_icon, outline_icon
from manifest.teams_package import TEAMS_DIR, PublicUrlError, build_teams_package, load_manifest
from tests.fixtures import SCHEMAS

BOT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
PUBLIC = "https://alerts.acme.example"


def schema_validator() -> Any:
    schema = json.loads((SCHEMAS / "teams-manifest-1.28.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    # no check_schema(): a few patterns use ECMA-262 `\p{L}` that Python's `re` cannot compile; they sit
    # under parts of the manifest we do not use. Every $ref is local ("#/definitions/..."), so no resolver.
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(manifest: dict[str, Any]) -> None:
    errors = list(schema_validator().iter_errors(manifest))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors]


def png_info(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, decoded filtered scanlines) of a non-interlaced 8-bit PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + chunk)
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0
    return width, height, colour, zlib.decompress(idat)


def alphas(data: bytes) -> list[int]:
    width, height, colour, raw = png_info(data)
    assert colour == 6  # RGBA
    stride = width * 4 + 1
    assert all(raw[y * stride] == 0 for y in range(height))  # filter "None" rows, as written
    return [raw[y * stride + 1 + x * 4 + 3] for y in range(height) for x in range(width)]


def test_manifest_validates_against_schema() -> None:
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text())
    assert_valid(manifest)
    assert manifest["manifestVersion"] == "1.28" and manifest["version"] == "1.0.0"
    assert manifest["accentColor"] == "#E8590C"
    (bot,) = manifest["bots"]
    assert set(bot["scopes"]) == {"team", "personal", "groupChat"}
    commands = [c["title"] for cl in bot["commandLists"] for c in cl["commands"]]
    assert len(commands) <= 10 and {"help", "mine", "stats"} <= set(commands)
    assert all(len(title) <= 32 for title in commands)
    (tab,) = manifest["staticTabs"]
    assert (tab["name"], tab["scopes"]) == ("Alerts", ["personal"])


def test_the_alerts_tab_opens_the_dashboard_at_the_public_address() -> None:
    manifest = load_manifest(bot_id=BOT_ID, public_url=PUBLIC + "/")
    assert_valid(manifest)
    (tab,) = manifest["staticTabs"]
    assert tab["contentUrl"] == f"{PUBLIC}/app/tab"  # the page framed in Teams
    assert tab["websiteUrl"] == f"{PUBLIC}/app"  # "open in browser": the dashboard itself
    assert manifest["validDomains"] == ["token.botframework.com", "alerts.acme.example"]
    assert "hotloop.example.com" not in json.dumps({k: manifest[k] for k in ("staticTabs", "validDomains")})
    with_port = load_manifest(public_url="https://alerts.acme.example:8443/hotloop")
    assert with_port["staticTabs"][0]["contentUrl"] == "https://alerts.acme.example:8443/hotloop/app/tab"
    assert with_port["validDomains"][-1] == "alerts.acme.example:8443"


@pytest.mark.parametrize("public_url", [None, "", "  ", "http://alerts.acme.example", "https://",
                                        "https://alerts.acme.example/?a=1", "alerts.acme.example"])
def test_no_package_without_an_https_public_address(tmp_path: Path, public_url: str | None) -> None:
    with pytest.raises(PublicUrlError, match="HOTLOOP_PUBLIC_URL"):
        build_teams_package(tmp_path / "x.zip", bot_id=BOT_ID, public_url=public_url)
    assert not (tmp_path / "x.zip").exists()


def test_schema_refs_are_local() -> None:
    text = (SCHEMAS / "teams-manifest-1.28.schema.json").read_text()
    refs = re.findall(r'"\$ref"\s*:\s*"([^"]*)"', text)
    assert refs and all(ref.startswith("#/") for ref in refs)


def test_schema_catches_a_broken_manifest() -> None:
    broken = load_manifest()
    broken["accentColor"] = "orange"
    del broken["developer"]["privacyUrl"]
    assert len(list(schema_validator().iter_errors(broken))) == 2


def test_icons_have_the_right_sizes() -> None:
    color, outline = (TEAMS_DIR / "color.png").read_bytes(), (TEAMS_DIR / "outline.png").read_bytes()
    assert png_info(color)[:2] == (192, 192)
    assert png_info(outline)[:2] == (32, 32)
    outline_alpha = alphas(outline)
    assert 0 in outline_alpha and 255 in outline_alpha  # transparent background, opaque glyph
    assert sum(a == 0 for a in outline_alpha) > len(outline_alpha) // 2
    _, _, _, raw = png_info(outline)
    rgb = {raw[y * 129 + 1 + x * 4 : y * 129 + 4 + x * 4] for y in range(32) for x in range(32)}
    assert rgb == {b"\xff\xff\xff"}  # white only
    assert alphas(color)[192 * 96 + 96] == 255  # the square is opaque in the middle


def test_committed_icons_match_the_generator() -> None:
    # compare decoded pixels, not bytes: another zlib build may compress differently
    assert png_info((TEAMS_DIR / "color.png").read_bytes()) == png_info(color_icon())
    assert png_info((TEAMS_DIR / "outline.png").read_bytes()) == png_info(outline_icon())


def test_package_has_exactly_three_files_at_its_root(tmp_path: Path) -> None:
    path = build_teams_package(tmp_path / "pkg" / "hotloop.zip", bot_id=BOT_ID, public_url=PUBLIC)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("outline.png") == (TEAMS_DIR / "outline.png").read_bytes()
    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["staticTabs"][0]["websiteUrl"] == f"{PUBLIC}/app"
    assert_valid(manifest)


def test_package_into_directory_and_bad_bot_id(tmp_path: Path) -> None:
    path = build_teams_package(tmp_path, bot_id=BOT_ID, public_url=PUBLIC)
    assert path == tmp_path / "hotloop-teams.zip" and zipfile.is_zipfile(path)
    with pytest.raises(ValueError, match="GUID"):
        build_teams_package(tmp_path / "x.zip", bot_id="not-a-guid", public_url=PUBLIC)
