"""The admin API (/admin/api/v1): who may use it, and what it shows and changes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport, access_token
from tests.unit.test_flows_reset import token_from

ROLE = "pwreset-admin"
CONSOLE = {"client_secret": "console-secret"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def admin_headers() -> dict[str, str]:
    """Minted when a test runs, not at import: the run can outlast a token's five minutes."""
    return bearer(access_token([ROLE]))


def admin_client(
    keycloak: FakeKeycloak,
    db: Database,
    clock: FakeClock,
    transport: MemoryTransport,
    **console: object,
) -> tuple[TestClient, Services]:
    services = build_services(
        make_settings(console={**CONSOLE, **console}),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )
    return TestClient(create_app(services), base_url=PUBLIC_URL), services


@pytest.fixture
def admin(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> Iterator[tuple[TestClient, Services]]:
    client, services = admin_client(keycloak, db, clock, transport)
    with client:
        yield client, services
    services.close()


def test_absent_until_the_console_is_configured(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> None:
    auth = admin_headers()
    services = build_services(
        make_settings(), gateway=keycloak, transport=transport, db=db, clock=clock
    )
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        assert client.get("/admin/api/v1/requests", headers=auth).status_code == 404
        assert "/admin/api/v1/requests" not in client.get("/openapi.json").text
    services.close()


def test_listed_under_its_own_tag(admin: tuple[TestClient, Services]) -> None:
    client, _ = admin
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/admin/api/v1/requests"]["get"]["tags"] == ["admin"]
    assert set(paths["/admin/api/v1/outbox/{job_id}"]) == {"delete"}


OTHER_REALM = RSAKey.generate_key(2048, parameters={"kid": "fake-realm-key"})


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda: {}, 401),
        (lambda: {"authorization": "Basic YWRtaW46YWRtaW4="}, 401),
        (lambda: bearer("not-a-jwt"), 401),
        (lambda: bearer(access_token([ROLE], lifetime=-120)), 401),  # expired, past the leeway
        (lambda: bearer(access_token([ROLE], iss="http://keycloak.test/realms/other")), 401),
        (lambda: bearer(access_token([ROLE], key=OTHER_REALM)), 401),  # same key id, other key
        (lambda: bearer(access_token([ROLE], typ="ID")), 401),  # an ID token is no access token
        (lambda: bearer(access_token(["offline_access"])), 403),  # valid, not an administrator
        (lambda: bearer(access_token([], realm_access=None)), 403),
    ],
)
def test_who_may_not_enter(
    admin: tuple[TestClient, Services], headers: Callable[[], dict[str, str]], status: int
) -> None:
    client, _ = admin
    for method, path in (("GET", "/requests"), ("DELETE", "/requests/1"), ("GET", "/outbox")):
        response = client.request(method, "/admin/api/v1" + path, headers=headers())
        assert response.status_code == status, (method, path, response.text)
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_signed_with_a_shared_secret_or_none_is_refused(
    admin: tuple[TestClient, Services],
) -> None:
    import base64
    import json

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    good = access_token([ROLE])
    claims = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    unsigned = f"{part({'alg': 'none', 'kid': 'fake-realm-key'})}.{part(claims)}."
    client, _ = admin
    assert client.get("/admin/api/v1/requests", headers=bearer(unsigned)).status_code == 401


def test_only_the_allowed_clients_tokens_when_restricted(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> None:
    auth = admin_headers()
    client, services = admin_client(keycloak, db, clock, transport, api_clients=["support-bot"])
    with client:
        assert client.get("/admin/api/v1/requests", headers=auth).status_code == 403
        bot = bearer(access_token([ROLE], azp="support-bot"))
        assert client.get("/admin/api/v1/requests", headers=bot).status_code == 200
    services.close()


def test_keys_are_fetched_once_not_per_request(
    admin: tuple[TestClient, Services], keycloak: FakeKeycloak
) -> None:
    auth = admin_headers()
    client, _ = admin
    for _ in range(5):
        assert client.get("/admin/api/v1/outbox", headers=auth).status_code == 200
    # A token naming an unknown key fetches again, but not at once a second time.
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rotated-in"})
    for _ in range(3):
        response = client.get(
            "/admin/api/v1/outbox", headers=bearer(access_token([ROLE], key=stranger))
        )
        assert response.status_code == 401
    assert keycloak.calls.count("signing_keys") == 2


def test_keycloak_down_answers_503(
    admin: tuple[TestClient, Services], keycloak: FakeKeycloak
) -> None:
    auth = admin_headers()
    client, _ = admin
    keycloak.down = True
    assert client.get("/admin/api/v1/requests", headers=auth).status_code == 503


def test_list_and_revoke_an_open_request(
    admin: tuple[TestClient, Services],
    transport: MemoryTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = admin_headers()
    caplog.set_level(logging.INFO, "keycloak_pwreset.audit")
    client, services = admin
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    token = token_from(transport)
    [listed] = client.get(
        "/admin/api/v1/requests", params={"address": "alice@example.org"}, headers=auth
    ).json()
    assert (listed["purpose"], listed["user_id"], listed["emails_this_hour"]) == (
        "reset",
        "id-alice",
        1,
    )
    assert token not in str(listed)
    assert client.delete(f"/admin/api/v1/requests/{listed['id']}", headers=auth).status_code == 204
    assert client.delete(f"/admin/api/v1/requests/{listed['id']}", headers=auth).status_code == 404
    dead = client.post(
        "/api/v1/password-resets/complete",
        json={
            "token": token,
            "password": "Another-pass1",
            "password_confirmation": "Another-pass1",
        },
    )
    assert dead.status_code == 410
    assert any(r.message == f"link_revoked by=id-admin item={listed['id']}" for r in caplog.records)


def test_outbox_retry_and_discard(
    admin: tuple[TestClient, Services], transport: MemoryTransport, clock: FakeClock
) -> None:
    auth = admin_headers()
    client, services = admin
    transport.failing = True
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    [job] = client.get("/admin/api/v1/outbox", params={"state": "later"}, headers=auth).json()
    assert job["kind"] == "reset_request" and job["subject"] == "alice"
    assert "memory transport told to fail" in job["last_error"]
    transport.failing = False
    assert client.post(f"/admin/api/v1/outbox/{job['id']}/retry", headers=auth).status_code == 204
    services.worker.run_once()
    assert len(transport.sent) == 1
    client.post("/api/v1/password-resets", json={"identifier": "ghost"})
    [waiting] = client.get("/admin/api/v1/outbox", params={"state": "due"}, headers=auth).json()
    assert client.delete(f"/admin/api/v1/outbox/{waiting['id']}", headers=auth).status_code == 204
    assert client.get("/admin/api/v1/outbox", headers=auth).json() == []
    assert client.get(
        "/admin/api/v1/outbox", params={"state": "bogus"}, headers=auth
    ).status_code in (400, 422)


def test_send_a_reset_link_to_an_account(
    admin: tuple[TestClient, Services],
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "keycloak_pwreset.audit")
    auth = admin_headers()
    client, services = admin
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    first = token_from(transport)
    sent = client.post("/admin/api/v1/accounts/id-alice/reset-link", headers=auth)
    assert sent.status_code == 202 and sent.json() == {"account_id": "id-alice", "queued": True}
    services.worker.run_once()
    assert len(transport.sent) == 2 and transport.sent[-1].to == "alice@example.org"
    second = token_from(transport)
    assert services.tokens.find_live(first, "reset") is None  # superseded
    assert services.tokens.find_live(second, "reset") is not None
    assert any(
        r.message == "reset_link_requested by=id-admin account_id=id-alice" for r in caplog.records
    )


def test_no_reset_link_for_an_unknown_disabled_or_protected_account(
    admin: tuple[TestClient, Services], keycloak: FakeKeycloak
) -> None:
    auth = admin_headers()
    client, _ = admin
    keycloak.add_user("root", "root@example.org")
    keycloak.protected.add("id-root")
    keycloak.add_user("gone", "gone@example.org")
    keycloak.disable("id-gone")
    for account in ("id-nobody", "id-gone"):  # unknown, disabled: as the gateway, none
        missing = client.post(f"/admin/api/v1/accounts/{account}/reset-link", headers=auth)
        assert missing.status_code == 404
    refused = client.post("/admin/api/v1/accounts/id-root/reset-link", headers=auth)
    assert refused.status_code == 409
    for odd in ("..%2F..%2Fusers", "a b", "x" * 65):  # never reach Keycloak's URL
        odd_answer = client.post(f"/admin/api/v1/accounts/{odd}/reset-link", headers=auth)
        assert odd_answer.status_code in (400, 404), odd
    keycloak.down = True
    assert (
        client.post("/admin/api/v1/accounts/id-alice/reset-link", headers=auth).status_code == 503
    )


def test_invite_through_the_api_and_list_the_invitations(
    admin: tuple[TestClient, Services],
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "keycloak_pwreset.audit")
    auth = admin_headers()
    client, services = admin
    body = {"email": "Ines@Example.org", "first_name": "Ines", "groups": ["/staff"]}
    sent = client.post("/admin/api/v1/invitations", json=body, headers=auth)
    assert sent.status_code == 202 and sent.json() == {"email": "ines@example.org", "queued": True}
    services.worker.run_once()
    assert transport.sent[-1].to == "ines@example.org"
    assert "/invitation?token=" in transport.sent[-1].message.get_body(("plain",)).get_content()
    [listed] = client.get("/admin/api/v1/invitations", headers=auth).json()
    assert listed["state"] == "pending" and listed["groups"] == ["/staff"]
    assert listed["invited_by"] == "id-admin" and "token" not in str(listed).lower()
    assert client.get("/admin/api/v1/invitations?state=accepted", headers=auth).json() == []
    assert any(r.message.startswith("invitation_requested by=id-admin") for r in caplog.records)


def test_invitation_refusals_and_who_may_invite(
    admin: tuple[TestClient, Services], keycloak: FakeKeycloak
) -> None:
    auth = admin_headers()
    client, _ = admin
    post = client.post
    answers = {
        "invalid_email": post("/admin/api/v1/invitations", json={"email": "x"}, headers=auth),
        "unknown_group": post(
            "/admin/api/v1/invitations",
            json={"email": "a@example.org", "groups": ["/nope"]},
            headers=auth,
        ),
        "invalid_validity": post(
            "/admin/api/v1/invitations",
            json={"email": "a@example.org", "valid_days": 90},
            headers=auth,
        ),
    }
    for code, answer in answers.items():
        assert answer.status_code == 400 and answer.json()["detail"] == code
    exists = post("/admin/api/v1/invitations", json={"email": "alice@example.org"}, headers=auth)
    assert exists.status_code == 409
    no_role = bearer(access_token(["someone-else"]))
    refused = post("/admin/api/v1/invitations", json={"email": "a@example.org"}, headers=no_role)
    assert refused.status_code == 403
    assert post("/admin/api/v1/invitations", json={"email": "a@example.org"}).status_code == 401
    keycloak.down = True
    down = post("/admin/api/v1/invitations", json={"email": "b@example.org"}, headers=auth)
    assert down.status_code == 503
