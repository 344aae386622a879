"""password_grant's reading of the token endpoint (HTTP faked with `responses`)."""

from __future__ import annotations

import pytest
import responses

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.realm import password_grant

TOKEN_URL = "http://kc.test/realms/demo/protocol/openid-connect/token"


def grant() -> bool:
    return password_grant("http://kc.test", "demo", "login", "alice", "pw")


@responses.activate
def test_token_means_true() -> None:
    responses.post(TOKEN_URL, json={"access_token": "abc", "token_type": "Bearer"})
    assert grant() is True
    assert "grant_type=password" in str(responses.calls[0].request.body)


@pytest.mark.parametrize(
    ("status", "description"),
    # Keycloak 26.7.3 answers a wrong password with 400 (older versions: 401).
    [
        (400, "Invalid user credentials"),
        (401, "Invalid user credentials"),
        (400, "Account is not fully set up"),
    ],
)
@responses.activate
def test_invalid_grant_means_false(status: int, description: str) -> None:
    responses.post(
        TOKEN_URL,
        status=status,
        json={"error": "invalid_grant", "error_description": description},
    )
    assert grant() is False


@responses.activate
def test_other_errors_are_set_up_mistakes() -> None:
    responses.post(TOKEN_URL, status=401, json={"error": "unauthorized_client"})
    with pytest.raises(DemoError, match="HTTP 401"):
        grant()
