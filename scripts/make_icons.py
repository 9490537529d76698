"""Draws the home-screen icons (static/icons/*.png): run it again after changing the design.

    .venv/bin/python scripts/make_icons.py

Two speech bubbles, one answering the other, on the site's accent colour. Drawn with numpy and
written as PNG with zlib, so no image library is needed. The background fills the whole square:
iOS rounds the corners itself, and Android crops maskable icons to its own shape (the bubbles
stay inside the middle 80%, the maskable safe zone).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"
ACCENT = (0x1F, 0x5F, 0xD6)
WHITE = (0xFF, 0xFF, 0xFF)
PALE = (0xB9, 0xCF, 0xF5)
# Drawn this many times larger, then averaged down: smooth edges without an anti-aliasing library.
SUPERSAMPLE = 4
SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180}


def rounded_rect(
    x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float], r: float
) -> np.ndarray:
    left, top, right, bottom = box
    cx = np.clip(x, left + r, right - r)
    cy = np.clip(y, top + r, bottom - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def triangle(
    x: np.ndarray, y: np.ndarray, a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> np.ndarray:
    def side(p: tuple[float, float], q: tuple[float, float]) -> np.ndarray:
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    return ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))


def draw(size: int) -> np.ndarray:
    """The icon as an RGB array, coordinates in units of the icon's width (0..1)."""
    n = size * SUPERSAMPLE
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / n
    image = np.empty((n, n, 3))
    image[:] = ACCENT
    back = rounded_rect(x, y, (0.14, 0.16, 0.66, 0.52), 0.08) | triangle(
        x, y, (0.24, 0.50), (0.36, 0.50), (0.22, 0.64)
    )
    front = rounded_rect(x, y, (0.34, 0.44, 0.86, 0.80), 0.08) | triangle(
        x, y, (0.64, 0.78), (0.76, 0.78), (0.78, 0.92)
    )
    image[back] = PALE
    image[front] = WHITE
    # Three lines of "text" in the front bubble, in the accent colour.
    for row, (start, end) in enumerate(((0.43, 0.77), (0.43, 0.72), (0.43, 0.62))):
        top = 0.52 + row * 0.085
        image[rounded_rect(x, y, (start, top, end, top + 0.04), 0.02)] = ACCENT
    return image.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3)).round().astype(np.uint8)


def png(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no alpha
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        (ICONS / name).write_bytes(png(draw(size)))
        print(f"wrote {ICONS / name} ({size}x{size})")


if __name__ == "__main__":
    main()
