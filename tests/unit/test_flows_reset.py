"""The reset flow against a fake Keycloak, an in-memory mailer and a real SQLite store."""

from __future__ import annotations

import re
import threading

import pytest

from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.store.outbox import MAX_ATTEMPTS
from tests.unit.conftest import PUBLIC_URL
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport

GOOD = "Better2password"


def token_from(transport: MemoryTransport, index: int = -1) -> str:
    text = transport.sent[index].message.get_body(("plain",)).get_content()
    match = re.search(re.escape(PUBLIC_URL) + r"/reset-password\?token=([\w-]+)", text)
    assert match, text
    return match.group(1)


def request_link(services: Services, transport: MemoryTransport, who: str = "alice") -> str:
    assert services.reset.request(who) is Result.SUCCESS
    services.worker.run_once()
    return token_from(transport)


@pytest.mark.parametrize("identifier", ["alice", "alice@example.org", "ALICE@example.org"])
def test_request_by_email_or_username_sends_one_email(
    services: Services, transport: MemoryTransport, identifier: str
) -> None:
    assert services.reset.request(identifier) is Result.SUCCESS
    assert transport.sent == []  # the request path sends nothing itself
    assert services.worker.run_once() == 1
    assert [m.to for m in transport.sent] == ["alice@example.org"]
    assert services.outbox.pending_count() == 0


def test_unknown_account_is_accepted_and_sends_nothing(
    services: Services, transport: MemoryTransport
) -> None:
    assert services.reset.request("nobody@example.org") is Result.SUCCESS
    assert services.worker.run_once() == 1
    assert transport.sent == []


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("", Result.MISSING_VALUE),
        ("   ", Result.MISSING_VALUE),
        ("a" * 256, Result.VALUE_TOO_LONG),
        ("alice\r\nBcc: evil@example.org", Result.INVALID_CHARACTERS),
        ("alice\0", Result.INVALID_CHARACTERS),
    ],
)
def test_bad_identifiers_are_rejected_before_any_work(
    services: Services, identifier: str, expected: Result
) -> None:
    assert services.reset.request(identifier) is expected
    assert services.outbox.pending_count() == 0


def test_complete_changes_password_logs_out_and_notifies(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = request_link(services, transport)
    assert services.reset.check(token) is not None
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS
    assert keycloak.current_password("id-alice") == GOOD
    services.worker.run_once()  # right after the answer: sessions out, notice sent
    assert keycloak.logouts == ["id-alice"]
    assert transport.sent[-1].message["Subject"].startswith("Your demo password was changed")
    # used once: the same link now fails with the one shared code
    assert services.reset.check(token) is None
    assert services.reset.complete(token, "Another3pass", "Another3pass") is (Result.LINK_EXPIRED)


@pytest.mark.parametrize(
    ("password", "confirmation", "expected"),
    [
        ("", "", Result.MISSING_VALUE),
        (GOOD, "", Result.MISSING_VALUE),
        (GOOD, GOOD + "x", Result.MISMATCHED_PASSWORDS),
        ("x" * 257, "x" * 257, Result.INVALID_PASSWORD_LENGTH),
        ("Line1\nbreak", "Line1\nbreak", Result.INVALID_CHARACTERS),
        ("short1", "short1", Result.INVALID_PASSWORD_LENGTH),
        ("nodigitshere", "nodigitshere", Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS),
        ("Initial-Orbit-7", "Initial-Orbit-7", Result.VIOLATING_REUSE_RULES),
    ],
)
def test_rejected_passwords_keep_the_link_usable(
    services: Services,
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    password: str,
    confirmation: str,
    expected: Result,
) -> None:
    token = request_link(services, transport)
    assert services.reset.complete(token, password, confirmation) is expected
    assert keycloak.password_changes == 0
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS


def test_unknown_and_malformed_tokens_share_one_code(services: Services) -> None:
    for token in ["", "nope", "A" * 43, "../../etc/passwd", "x" * 5000]:
        assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED


def test_expired_token(services: Services, transport: MemoryTransport, clock: FakeClock) -> None:
    token = request_link(services, transport)
    clock.advance(minutes=61)
    assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED


def test_new_request_supersedes_the_old_link(
    services: Services, transport: MemoryTransport
) -> None:
    first = request_link(services, transport)
    second = request_link(services, transport)
    assert first != second
    assert services.reset.complete(first, GOOD, GOOD) is Result.LINK_EXPIRED
    assert services.reset.complete(second, GOOD, GOOD) is Result.SUCCESS


def test_keycloak_down_while_completing_keeps_the_token(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = request_link(services, transport)
    keycloak.down = True
    assert services.reset.complete(token, GOOD, GOOD) is Result.SERVICE_UNAVAILABLE
    keycloak.down = False
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS


def test_logout_failure_is_retried_from_the_outbox(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak, clock: FakeClock
) -> None:
    token = request_link(services, transport)
    keycloak.logout_down = True
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS
    services.worker.run_once()
    assert keycloak.logouts == []
    keycloak.logout_down = False
    clock.advance(minutes=5)
    services.worker.run_once()
    assert keycloak.logouts == ["id-alice"]


def test_smtp_down_then_back_delivers_later(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    transport.failing = True
    assert services.reset.request("alice") is Result.SUCCESS
    assert services.worker.run_once() == 0
    assert services.outbox.pending_count() == 1
    transport.failing = False
    services.worker.run_once()  # not due yet: backoff
    assert transport.sent == []
    clock.advance(minutes=1)
    assert services.worker.run_once() == 1
    token = token_from(transport)
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS


def test_keycloak_down_during_lookup_is_retried(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak, clock: FakeClock
) -> None:
    keycloak.down = True
    services.reset.request("alice")
    services.worker.run_once()
    keycloak.down = False
    clock.advance(minutes=1)
    services.worker.run_once()
    assert len(transport.sent) == 1


def test_outbox_gives_up_after_max_attempts(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    transport.failing = True
    services.reset.request("alice")
    for _ in range(MAX_ATTEMPTS):
        services.worker.run_once()
        clock.advance(hours=2)
    assert services.outbox.pending_count() == 0


def test_concurrent_completions_change_the_password_once(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = request_link(services, transport)
    results: list[Result] = []
    barrier = threading.Barrier(8)

    def submit(n: int) -> None:
        barrier.wait()
        results.append(
            services.reset.complete(token, f"Parallel-{n}-Orbit-pass", f"Parallel-{n}-Orbit-pass")
        )

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(Result.SUCCESS) == 1
    assert results.count(Result.LINK_EXPIRED) == 7
    assert keycloak.password_changes == 1


def test_locale_travels_with_the_request(services: Services, transport: MemoryTransport) -> None:
    services.reset.request("alice", "de")
    services.worker.run_once()
    token = token_from(transport)
    info = services.reset.check(token)
    assert info is not None and info.locale == "de"
