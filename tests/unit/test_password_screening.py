"""NIST SP 800-63B screening with zxcvbn, and the breached-password range API on loopback."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from keycloak_pwreset.password_screening import Screening, words_of
from keycloak_pwreset.pwned import PwnedRange
from keycloak_pwreset.settings.passwords import PasswordSettings

SCREENING = Screening(3, words_of("demo"))


@pytest.mark.parametrize(
    ("password", "personal", "reason"),
    [
        ("Password123!", [], "common"),
        ("Summer2026!", [], "common"),
        ("alice1987", ["alice", "alice@example.org"], "personal"),
        ("demo2026!", [], "personal"),  # the site's own name
        ("aaaaaaaaaaaa", [], "pattern"),
        ("lamp orbit velvet cactus", [], None),  # a four-word passphrase
        ("Copper-Meadow-31", [], None),
    ],
)
def test_what_is_refused_and_why(password: str, personal: list[str], reason: str | None) -> None:
    assert SCREENING.reason(password, words_of(*personal)) == reason


def test_context_words_take_an_address_and_names_apart() -> None:
    assert words_of("Alice.Smith@Example.org", "Jo") == [
        "alice",
        "alice.smith",
        "alice.smith@example.org",
        "smith",
    ]


def test_a_very_long_password_is_screened_by_its_start() -> None:
    assert Screening(3).reason("a" * 200) == "pattern"
    assert Screening(3).reason("lamp orbit velvet cactus " * 8) is None


class RangeApi:
    """A loopback stand-in for the range API: knows one breached password."""

    def __init__(self, breached: str, *, status: int = 200) -> None:
        digest = hashlib.sha1(breached.encode(), usedforsecurity=False).hexdigest().upper()
        self.prefix, self.suffix = digest[:5], digest[5:]
        self.status = status
        self.asked: list[str] = []
        self.headers: list[str] = []

    def serve(self) -> Iterator[str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.asked.append(self.path)
                api.headers.append(self.headers.get("Add-Padding", ""))
                body = b""
                if self.path == f"/range/{api.prefix}":
                    body = f"{api.suffix}:42\r\n{'0' * 35}:0\r\n".encode()
                self.send_response(api.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()


@pytest.fixture
def api() -> Iterator[tuple[RangeApi, str]]:
    stand_in = RangeApi("Lantern-Velvet-42")
    for url in stand_in.serve():
        yield stand_in, url


def test_only_five_hex_characters_leave(api: tuple[RangeApi, str]) -> None:
    stand_in, url = api
    check = PwnedRange(PasswordSettings(pwned_check=True, pwned_url=url))
    assert check("Lantern-Velvet-42") is True
    assert check("Copper-Meadow-31") is False
    assert all(len(path) == len("/range/") + 5 for path in stand_in.asked)
    assert stand_in.headers == ["true", "true"]  # padded answers: their size says nothing
    screening = Screening(3, breached=check)
    assert screening.reason("Lantern-Velvet-42") == "breached"


def test_an_unreachable_api_fails_open_or_closed_as_configured() -> None:
    dead = "http://127.0.0.1:9"
    assert PwnedRange(PasswordSettings(pwned_url=dead, pwned_timeout_seconds=1))("x") is False
    closed = PasswordSettings(pwned_url=dead, pwned_timeout_seconds=1, pwned_fail_open=False)
    assert PwnedRange(closed)("x") is True
