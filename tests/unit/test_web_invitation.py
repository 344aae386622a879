"""The invitation's link page (/invitation) through FastAPI's test client."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from keycloak_pwreset.flows.invite import Invitation
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import open_database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_signup import GOOD, link_in
from tests.unit.test_web_pages import csrf_of, way_back


def open_invitation(client: TestClient, services: Services, transport: MemoryTransport) -> str:
    invitation = Invitation("ines@example.org", "Ines", groups=("/staff",))
    assert services.invite.invite(invitation, by="admin-1") is None
    services.worker.run_once()
    token = link_in(transport, "/invitation")
    moved = client.get(f"/invitation?token={token}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/invitation"
    return client.get("/invitation").text


def choose(client: TestClient, page: str, **fields: str) -> object:
    data = {"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf_of(page)}
    return client.post("/invitation", data={**data, **fields}, follow_redirects=False)


def test_accept_an_invitation_with_sign_up_switched_off(
    keycloak: FakeKeycloak, transport: MemoryTransport, tmp_path: Path, clock: FakeClock
) -> None:
    services = build_services(
        make_settings(signup_enabled=False),
        gateway=keycloak,
        transport=transport,
        db=open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"),
        clock=clock,
    )
    client = TestClient(create_app(services), base_url=PUBLIC_URL)
    assert client.get("/signup/complete").status_code == 404
    page = open_invitation(client, services, transport)
    assert "Welcome, Ines!" in page and 'action="/invitation"' in page
    assert 'name="username"' not in page  # the realm uses emails as usernames
    done = choose(client, page)
    assert "kcpr_status=account_created" in way_back(done)
    account = keycloak.created[-1]
    assert (account.email, account.groups) == ("ines@example.org", ("/staff",))
    again = client.get("/invitation")
    assert again.status_code == 400 and "This link no longer works" in again.text
    services.close()


def test_the_page_asks_for_a_username_when_the_realm_wants_one(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.rules = SignupRules(email_as_username=False)
    page = open_invitation(client, services, transport)
    assert 'name="username"' in page
    taken = choose(client, page, username="alice")
    assert 'data-result="username_taken"' in taken.text  # type: ignore[attr-defined]
    assert 'name="username"' in taken.text  # type: ignore[attr-defined]
    assert choose(client, page, username="ines").status_code == 201  # type: ignore[attr-defined]
    assert keycloak.created[-1].username == "ines"
