"""GET /metrics: the names a dashboard relies on, who may read them, and no personal data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import responses
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.gateway import KeycloakGateway
from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import load_settings
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from
from tests.unit.test_gateway import KC, REALM, FakeKeycloakHttp, user_rep

TOKEN = "m" * 40
BEARER = {"authorization": f"Bearer {TOKEN}"}
Samples = list[tuple[str, dict[str, str], float]]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for n, got, v in samples if n == name and labels.items() <= got.items())


def metrics_services(
    keycloak: FakeKeycloak,
    transport: MemoryTransport,
    db: Database,
    clock: FakeClock,
    **settings: object,
) -> Services:
    return build_services(
        make_settings(metrics_token=TOKEN, **settings),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )


@pytest.fixture
def metered(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> Iterator[tuple[TestClient, Services]]:
    services = metrics_services(
        keycloak, transport, db, clock, limits={"requests_per_client": "8/minute"}
    )
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        yield client, services


def test_requests_jobs_emails_and_refusals_are_counted(
    metered: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = metered
    assert client.post("/api/v1/password-resets", json={"identifier": "alice"}).status_code == 202
    samples = scrape(client)
    # Before the worker ran: one job due, waiting since the request.
    assert value(samples, "kcpr_outbox_jobs", state="due") == 1
    assert value(samples, "kcpr_outbox_oldest_due_age_seconds") >= 0
    services.worker.run_once()
    token = token_from(transport)
    done = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": GOOD, "password_confirmation": GOOD},
    )
    assert done.status_code == 200
    again = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": GOOD, "password_confirmation": GOOD},
    )
    assert again.status_code == 410
    assert client.get("/forgot-password").status_code == 200
    for _ in range(5):  # the 4th to 8th POST of this minute
        assert (
            client.post("/api/v1/password-resets", json={"identifier": "ghost"}).status_code == 202
        )
    assert client.post("/api/v1/password-resets", json={}).status_code == 429
    services.worker.run_once()

    samples = scrape(client)
    requests = "kcpr_http_requests_total"
    route = "/api/v1/password-resets"
    assert value(samples, requests, route=route, method="POST", status="202", result="success") == 6
    assert value(samples, requests, route=route, status="429", result="rate_limited") == 1
    complete = "/api/v1/password-resets/complete"
    assert value(samples, requests, route=complete, status="200", result="success") == 1
    assert (
        value(samples, requests, route=complete, status="410", result="recovery_token_expired") == 1
    )
    assert value(samples, requests, route="/forgot-password", method="GET", status="200") == 1
    # The five waiting requests for one identifier from one network were one job.
    assert value(samples, "kcpr_jobs_total", kind="reset_request", outcome="done") == 2
    assert value(samples, "kcpr_emails_sent_total", kind="reset", profile="default") == 1
    assert value(samples, "kcpr_emails_sent_total", kind="password-changed", profile="default") == 1
    assert value(samples, "kcpr_rate_limit_refusals_total", limit="requests_per_client") == 1
    assert value(samples, "kcpr_outbox_jobs", state="due") == 0


def test_retries_and_failures_are_counted_by_kind(
    metered: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = metered
    transport.failing = True
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    samples = scrape(client)
    assert value(samples, "kcpr_jobs_total", kind="reset_request", outcome="retried") == 1
    assert value(samples, "kcpr_outbox_jobs", state="later") == 1
    assert value(samples, "kcpr_emails_sent_total") == 0


def test_the_account_cooldown_counts_as_a_refusal(
    metered: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = metered
    for _ in range(4):  # three an hour from one network: the fourth is withheld
        client.post("/api/v1/password-resets", json={"identifier": "alice"})
        services.worker.run_once()
    samples = scrape(client)
    assert value(samples, "kcpr_emails_sent_total", kind="reset") == 3
    assert value(samples, "kcpr_rate_limit_refusals_total", limit="emails_per_account") == 1


PERSONAL = ["alice", "example.org", "ghost", "id-alice", "testclient", "127.0.0.1", "secret-path"]


def test_no_label_carries_an_address_identifier_token_or_path(
    metered: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = metered
    client.post("/api/v1/password-resets", json={"identifier": "alice@example.org"})
    client.post("/api/v1/password-resets", json={"identifier": "ghost"})
    services.worker.run_once()
    token = token_from(transport)
    client.get(f"/reset-password?token={token}", follow_redirects=False)
    client.get("/secret-path/alice@example.org")
    client.request("BREW", "/api/v1/password-resets")
    samples = scrape(client)
    routes = {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/forgot-password",
        "/reset-password",
        "/signup",
        "/signup/complete",
        "/api/v1/password-resets",
        "/api/v1/password-resets/complete",
        "/api/v1/signups",
        "/api/v1/signups/complete",
        "/static",
    }
    for name, labels, _value in samples:
        for label, text in labels.items():
            assert token not in text
            assert not any(word in text for word in PERSONAL), (name, label, text)
        if "route" in labels:
            assert labels["route"] in routes | {"unmatched"}, labels
        if "method" in labels:
            assert labels["method"] in {"GET", "HEAD", "POST", "other"}, labels
    assert value(samples, "kcpr_http_requests_total", route="unmatched", status="404") == 1
    assert value(samples, "kcpr_http_requests_total", method="other") == 1


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"bearer {TOKEN}x"]
)
def test_metrics_need_the_token(metered: tuple[TestClient, Services], header: str | None) -> None:
    client, _services = metered
    headers = {"authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "kcpr_" not in response.text


def test_metrics_are_absent_without_a_token_or_on_their_own_port(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> None:
    for settings in ({"metrics_token": None}, {"metrics_port": 9464}):
        services = build_services(
            make_settings(**settings), gateway=keycloak, transport=transport, db=db, clock=clock
        )
        with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
            assert client.get("/metrics", headers=BEARER).status_code == 404
        services.close()


def test_a_short_metrics_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value_ in {
        "KCPR_KEYCLOAK_URL": "http://keycloak.test",
        "KCPR_REALM": "demo",
        "KCPR_CLIENT_ID": "c",
        "KCPR_CLIENT_SECRET": "s",
        "KCPR_PUBLIC_URL": PUBLIC_URL,
        "KCPR_SECRET_KEY": "k" * 40,
        "KCPR_MAIL__FROM_ADDRESS": "help@example.org",
        "KCPR_METRICS_TOKEN": "short",
        "KCPR_CONFIG_FILE": "",
    }.items():
        monkeypatch.setenv(name, value_)
    with pytest.raises(ConfigError, match="KCPR_METRICS_TOKEN: must be at least 32"):
        load_settings()


def test_keycloak_calls_are_timed_by_operation_and_outcome() -> None:
    metrics = Metrics()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeKeycloakHttp(mock)
        fake.users.append(user_rep("id-alice", "alice", "alice@example.org"))
        fake.install()
        mock.add(responses.GET, f"{KC}/admin/realms/{REALM}/users/id-gone", status=500)
        gateway = KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret", metrics=metrics)
        assert gateway.find_user("alice") is not None
        with pytest.raises(Exception, match="500"):
            gateway.get_user("id-gone")
    samples = [
        (s.name, s.labels, s.value) for family in metrics.registry.collect() for s in family.samples
    ]
    count = "kcpr_keycloak_request_duration_seconds_count"
    assert value(samples, count, operation="sign in", outcome="ok") == 1
    assert value(samples, count, operation="search users", outcome="ok") >= 1
    assert value(samples, count, operation="read a user", outcome="error") == 1
    assert not any("id-gone" in text for _n, labels, _v in samples for text in labels.values())


def test_outbox_depth_counts_due_later_and_failed(any_db: Database, clock: FakeClock) -> None:
    from keycloak_pwreset.store.outbox import Outbox

    outbox = Outbox(any_db, clock)
    assert outbox.depth().due == 0 and outbox.depth().oldest_due_age_seconds == 0
    for n in range(3):
        outbox.add("reset_request", {"n": n})
    clock.advance(seconds=30)
    first, second, _third = outbox.lease_due(3)
    outbox.retry_later(first, "SMTP down")
    outbox.fail(second, "refused")
    depth = outbox.depth()
    assert (depth.due, depth.later, depth.failed) == (1, 1, 1)  # the third, still leased, is due
    assert depth.oldest_due_age_seconds == pytest.approx(30, abs=1)
    clock.advance(seconds=timedelta(hours=2).total_seconds())
    assert outbox.depth().due == 2
