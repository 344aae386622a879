"""A real headless Chromium (Debian's package) driven by Playwright for Python.

The browser comes from the operating system (`apt-get install chromium`):
Playwright's own browser download cannot work here, so `executable_path`
points at the system binary. Every test writes a screenshot per step under
artifacts/e2e/<test>/ and fails on any console error of any page it visited.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from keycloak import KeycloakAdmin
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from keycloak_pwreset_demo.realm import RealmInfo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path("artifacts") / "e2e"
# As root, without the background services this closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
E2E_CLIENT = "pwreset-e2e"


@dataclass
class Callback:
    """The test application's redirect URI: records the authorization responses it gets."""

    url: str
    received: list[dict[str, list[str]]] = field(default_factory=list)


@pytest.fixture(scope="session")
def callback() -> Iterator[Callback]:
    received: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = urlsplit(self.path)
            if target.path == "/callback":  # not the browser's /favicon.ico
                received.append(parse_qs(target.query))
            body = b"<!doctype html><title>signed in</title><p id=signed-in>signed in</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Callback(f"http://127.0.0.1:{server.server_port}/callback", received)
    server.shutdown()


@pytest.fixture(scope="session")
def e2e_client(admin: KeycloakAdmin, callback: Callback) -> str:
    """A browser application of the realm: standard flow, its redirect URI is `callback`."""
    admin.create_client(
        {
            "clientId": E2E_CLIENT,
            "enabled": True,
            "publicClient": True,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": False,
            "redirectUris": [callback.url],
            "webOrigins": ["+"],
        },
        skip_exists=True,
    )
    return E2E_CLIENT


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Steps:
    """Numbered screenshots of one test, and the console errors of its pages."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({self.page.url})")

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)


@pytest.fixture
def steps(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Steps]:
    folder = ARTIFACTS / re.sub(r"[^\w.-]", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    context = chromium.new_context(locale="en-US")
    recorder = Steps(context.new_page(), folder)
    yield recorder
    context.close()
    assert recorder.errors == [], "the browser logged errors:\n" + "\n".join(recorder.errors)


def authorization_url(realm: RealmInfo, client_id: str, callback: Callback, **extra: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": callback.url,
        "response_type": "code",
        "scope": "openid",
        "state": "e2e-state",
        **extra,
    }
    return (
        f"{realm.server_url}/realms/{realm.realm}/protocol/openid-connect/auth?{urlencode(params)}"
    )
