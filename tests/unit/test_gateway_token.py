"""The service account's token: one for all worker threads, refreshed once when it runs out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from keycloak_pwreset.gateway import KeycloakGateway
from tests.unit.test_gateway import ADMIN, FakeKeycloakHttp, gateway, kc  # noqa: F401


def expire(gateway: KeycloakGateway) -> None:  # noqa: F811
    """As if the token's lifetime had passed (python-keycloak notes when it runs out)."""
    connection = gateway._connection
    connection._expires_at = datetime.now(tz=UTC) - timedelta(seconds=1)


def in_threads(count: int, work: object) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = []

    def run() -> None:
        barrier.wait(timeout=5)
        results.append(work())  # type: ignore[operator]

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


@pytest.fixture
def warm(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> Iterator[KeycloakGateway]:  # noqa: F811
    assert gateway.find_user("alice@example.org") is not None
    assert kc.token_calls() == 1
    yield gateway


def test_a_token_that_ran_out_is_renewed_once_for_all_threads(
    kc: FakeKeycloakHttp,  # noqa: F811
    warm: KeycloakGateway,
) -> None:
    expire(warm)
    found = in_threads(8, lambda: warm.find_user("alice@example.org"))
    assert len(found) == 8 and all(found)
    assert kc.token_calls() == 2  # one renewal, not one per thread


def test_a_fresh_token_is_reused_by_every_thread(
    kc: FakeKeycloakHttp,  # noqa: F811
    warm: KeycloakGateway,
) -> None:
    found = in_threads(8, lambda: warm.find_user("alice@example.org"))
    assert all(found)
    assert kc.token_calls() == 1
    assert len(kc.calls_to("GET", f"{ADMIN}/users")) == 9  # one search per look-up
