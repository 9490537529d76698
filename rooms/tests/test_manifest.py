"""The web app manifest: "Add to Home Screen" on a phone opens the service like an app."""

from __future__ import annotations

import struct

from django.contrib.staticfiles import finders
from django.test import Client


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as image:
        head = image.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_it_describes_a_standalone_app_with_real_icons(client: Client, db: None) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"]
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    assert manifest["theme_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, f"{icon['src']} is not a static file"
        width, height = png_size(path)
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert {192, 512} <= sizes


def test_it_links_the_manifest_and_the_apple_touch_icon_from_every_page(client: Client, db: None) -> None:
    body = client.get("/accounts/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in body
    assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">' in body
    assert png_size(finders.find("icons/apple-touch-icon.png")) == (180, 180)
    assert '<meta name="theme-color" content="#1f5fd6">' in body
