"""The page and its assets as the gateway serves them: no key needed, nothing from elsewhere."""

from __future__ import annotations

import re

import httpx2

from services.gateway.routes.web import WEB
from tests.fixtures.gateway import GatewayServer

ASSETS = sorted(path.name for path in WEB.iterdir() if path.name != "index.html")


async def test_the_page_is_served_without_a_key_under_a_strict_policy(
    gateway_server: GatewayServer,
) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # Everything it loads is one of its own files, by a path on this origin.
    loaded = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
    assert loaded
    assert all(url.startswith("/web/") and url.removeprefix("/web/") in ASSETS for url in loaded)


async def test_every_asset_is_served_and_names_no_other_origin(
    gateway_server: GatewayServer,
) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as client:
        for name in ASSETS:
            asset = await client.get(f"/web/{name}")
            assert asset.status_code == 200, name
            assert asset.headers["x-content-type-options"] == "nosniff"
            text = asset.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name only
            assert "http://" not in text, name
            assert "https://" not in text, name
            if name.endswith(".js"):
                assert asset.headers["content-type"].startswith("text/javascript")
                # Model text reaches the DOM as text nodes only.
                assert "innerHTML" not in asset.text, name
                assert "insertAdjacentHTML" not in asset.text, name
        missing = await client.get("/web/nothing-here.js")
    assert missing.status_code == 404
