"""The way back to Keycloak's login after a reset or sign-up, and no open redirect."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services
from tests.unit.fakes import MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from
from tests.unit.test_web_pages import csrf_of, open_link, way_back

RESTART = "/realms/demo/login-actions/restart?client_id=app&tab_id=abc&client_data=xyz"


def reset_with_return(
    client: TestClient, services: Services, transport: MemoryTransport, return_to: str
) -> str:
    page = client.get(f"/forgot-password?kc_locale=en&return_to={quote(return_to, safe='')}")
    client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf_of(page.text)})
    services.worker.run_once()
    csrf = open_link(client, token_from(transport))
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    return way_back(done)


def test_back_to_the_keycloak_login_the_person_started(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    assert reset_with_return(client, services, transport, RESTART) == (
        "http://keycloak.test" + RESTART
    )


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example" + RESTART,
        "//evil.example" + RESTART,
        "http://keycloak.test.evil.example" + RESTART,
        "/realms/other/login-actions/restart?client_id=app",
        "/realms/demo/account",
        "javascript:alert(1)",
        "/realms/demo/login-actions/restart/../../../evil",
        RESTART + "\r\nSet-Cookie: x=1",
    ],
)
def test_anything_else_is_ignored(
    client: TestClient, services: Services, transport: MemoryTransport, return_to: str
) -> None:
    location = reset_with_return(client, services, transport, return_to)
    assert location == "http://keycloak.test/realms/demo/account?kcpr_status=password_changed"


def test_absolute_url_on_keycloak_is_accepted(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    absolute = "http://keycloak.test" + RESTART
    assert reset_with_return(client, services, transport, absolute) == absolute
