"""Draw the Teams app icons with the standard library only (zlib + struct PNG writer).

    python manifest/teams/make_icons.py      # rewrites color.png (192×192) and outline.png (32×32)

color.png: a white loop arrow on a rounded #E8590C square. outline.png: the same glyph in white on a
transparent background, as Teams requires. Edges are anti-aliased by 4×4 supersampling.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

ACCENT = (0xE8, 0x59, 0x0C)
WHITE = (255, 255, 255)
HERE = Path(__file__).resolve().parent
SAMPLES = 4

RING_OUT, RING_IN = 0.31, 0.205
GAP_FROM, GAP_TO = math.radians(15), math.radians(75)


def png_bytes(width: int, height: int, rgba: bytes) -> bytes:
    """An 8-bit RGBA PNG (colour type 6) from raw row-major pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = width * 4
    raw = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _in_triangle(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> bool:
    def side(p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float]) -> float:
        return (p1[0] - p3[0]) * (p2[1] - p3[1]) - (p2[0] - p3[0]) * (p1[1] - p3[1])

    d1, d2, d3 = side(p, a, b), side(p, b, c), side(p, c, a)
    has_neg = d1 < 0 or d2 < 0 or d3 < 0
    has_pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (has_neg and has_pos)


def _arrowhead() -> tuple[tuple[float, float], ...]:
    """A triangle at the ring's end (angle GAP_FROM), pointing along the ring into the gap."""
    mid = (RING_OUT + RING_IN) / 2
    cos_t, sin_t = math.cos(GAP_FROM), math.sin(GAP_FROM)
    tangent = (-sin_t, cos_t)
    base_in, base_out = mid - 0.12, mid + 0.12
    apex = (mid * cos_t + 0.15 * tangent[0], mid * sin_t + 0.15 * tangent[1])
    return (base_in * cos_t, base_in * sin_t), (base_out * cos_t, base_out * sin_t), apex


ARROW = _arrowhead()


def in_glyph(x: float, y: float) -> bool:
    """(x, y) in unit coordinates, y down; the loop arrow centred at (0.5, 0.5)."""
    dx, dy = x - 0.5, 0.5 - y
    if _in_triangle((dx, dy), *ARROW):
        return True
    radius = math.hypot(dx, dy)
    if not RING_IN <= radius <= RING_OUT:
        return False
    angle = math.atan2(dy, dx)
    return not GAP_FROM < angle < GAP_TO


def in_rounded_square(x: float, y: float, corner: float = 0.2) -> bool:
    cx = min(max(x, corner), 1 - corner)
    cy = min(max(y, corner), 1 - corner)
    return (x - cx) ** 2 + (y - cy) ** 2 <= corner**2


def coverage(px: int, py: int, size: int, inside: Callable[[float, float], bool]) -> float:
    hits = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            hits += inside(x, y)
    return hits / (SAMPLES * SAMPLES)


def color_icon(size: int = 192) -> bytes:
    out = bytearray()
    for py in range(size):
        for px in range(size):
            bg = coverage(px, py, size, in_rounded_square)
            glyph = coverage(px, py, size, in_glyph)
            rgb = (round(a + (b - a) * glyph) for a, b in zip(ACCENT, WHITE, strict=True))
            out.extend((*rgb, round(255 * bg)))
    return png_bytes(size, size, bytes(out))


def outline_icon(size: int = 32) -> bytes:
    out = bytearray()
    for py in range(size):
        for px in range(size):
            out.extend((*WHITE, round(255 * coverage(px, py, size, in_glyph))))
    return png_bytes(size, size, bytes(out))


def main(directory: Path = HERE) -> None:
    (directory / "color.png").write_bytes(color_icon())
    (directory / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":
    main()
