"""The per-client counts, in memory and in a real Redis (Debian's redis-server, started once
per run on a free loopback port): the same limits either way, shared between instances only
through Redis, and a Redis outage that neither opens the gates nor takes the service down."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import build_services
from keycloak_pwreset.settings import LimitSettings
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web import limit_counts
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.web.limit_counts import ClientLimiter
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.redis_server import RedisServer
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport, run_async

LIMIT = 3


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


def limiter(uri: str, rate: str = f"{LIMIT}/minute") -> ClientLimiter:
    return ClientLimiter(LimitSettings(requests_per_client=rate, storage_uri=uri))


async def hits(target: ClientLimiter, client: str, count: int) -> list[int | None]:
    return [await target.hit("request", client) for _ in range(count)]


def fresh_client(name: str) -> str:
    """A client key no earlier test (or run, on the shared Redis) has counted."""
    return f"{name}-{secrets.token_hex(6)}"


# Each test runs in one event loop (asyncio.run): redis-py's connections belong to the loop
# that opened them, as in the service, which has one.


def test_the_limit_allows_then_refuses_with_a_wait(storage_uri: str) -> None:
    async def run() -> None:
        counts = limiter(storage_uri)
        client, other = fresh_client("a"), fresh_client("b")
        assert await hits(counts, client, LIMIT) == [None] * LIMIT
        [refused] = await hits(counts, client, 1)
        assert refused is not None and 1 <= refused <= 60
        assert await hits(counts, other, 1) == [None]  # per client

    run_async(run())


def test_instances_share_the_count_only_through_redis(storage_uri: str) -> None:
    """A client alternating between two instances: through Redis it meets the limit at the
    same count as against one; in memory each instance counts alone (twice the limit)."""

    async def run() -> int:
        first, second = limiter(storage_uri), limiter(storage_uri)
        client = fresh_client("alternating")
        answers = [
            (await hits(first if n % 2 == 0 else second, client, 1))[0] for n in range(2 * LIMIT)
        ]
        return sum(answer is None for answer in answers)

    assert run_async(run()) == (LIMIT if storage_uri.startswith("redis") else 2 * LIMIT)


def test_an_unreachable_redis_falls_back_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens on the port: every hit still answers, counted in memory, so the
    gates stay as closed as without Redis; one warning says so."""
    counts = limiter(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger=limit_counts.__name__):
        answers = run_async(hits(counts, fresh_client("outage"), LIMIT + 2))
    assert answers[:LIMIT] == [None] * LIMIT
    assert all(answer is not None for answer in answers[LIMIT:])
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert not counts.shared


def test_redis_is_used_again_once_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limit_counts, "FALLBACK_SECONDS", 0.2)
    server = RedisServer(tmp_path / "redis")

    async def run() -> None:
        counts = limiter(server.url)
        client = fresh_client("restart")
        await hits(counts, client, 1)  # Redis is not started yet: counted in memory
        assert not counts.shared
        server.start()
        await asyncio.sleep(0.3)
        assert counts.shared
        assert await hits(counts, client, LIMIT) == [None] * LIMIT  # Redis's window: empty
        assert (await hits(counts, client, 1))[0] is not None
        assert counts.shared

    try:
        run_async(run())
    finally:
        server.stop()


@pytest.fixture
def app_without_its_redis(db: Database) -> Iterator[TestClient]:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    limits = {"requests_per_client": f"{LIMIT}/minute", "storage_uri": dead}
    services = build_services(
        make_settings(limits=limits),
        gateway=FakeKeycloak(),
        transport=MemoryTransport(),
        db=db,
        clock=FakeClock(),
    )
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        yield client
    services.close()


def test_requests_are_answered_and_limited_while_redis_is_down(
    app_without_its_redis: TestClient,
) -> None:
    statuses = [
        app_without_its_redis.post(
            "/api/v1/password-resets", json={"identifier": f"someone{n}@example.org"}
        ).status_code
        for n in range(LIMIT + 1)
    ]
    assert statuses == [202] * LIMIT + [429]


def test_a_storage_uri_that_is_neither_memory_nor_redis_is_refused() -> None:
    for uri in ("memcached://127.0.0.1:11211", "redis", "postgres://x"):
        with pytest.raises(ValueError, match="memory:// or a Redis URL"):
            LimitSettings(storage_uri=uri)


def test_check_names_an_unreachable_redis_and_passes_a_live_one(
    redis_server: RedisServer,
) -> None:
    dead = LimitSettings(storage_uri=f"redis://127.0.0.1:{free_port()}/0")
    problem = limit_counts.probe_store(dead)
    assert problem is not None and "cannot reach Redis at 127.0.0.1:" in problem
    assert limit_counts.probe_store(LimitSettings(storage_uri=redis_server.url)) is None
    assert limit_counts.probe_store(LimitSettings()) is None  # memory://: nothing to reach
