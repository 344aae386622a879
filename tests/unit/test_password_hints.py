"""The rules on the choose-password pages and in the API: listed, marked, explained."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from tests.unit.fakes import FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import request_link
from tests.unit.test_web_pages import open_link


def marked(html: str) -> list[str]:
    return re.findall(r'<li data-rule="(\w+)" class="broken"', html)


def listed(html: str) -> list[str]:
    return re.findall(r'<li data-rule="(\w+)"', html)


def test_the_page_lists_the_realm_rules_and_marks_every_broken_one(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.policy = "length(10) and digits(2) and upperCase(1) and hashIterations(27500)"
    csrf = open_link(client, request_link(services, transport))
    page = client.get("/reset-password")
    assert listed(page.text) == ["length", "digits", "upperCase", "screening"]
    assert "At least 10 characters" in page.text and "hashIterations" not in page.text
    weak = client.post(
        "/reset-password",
        data={"password": "short1", "password_confirmation": "short1", "csrf_token": csrf},
    )
    assert marked(weak.text) == ["length", "digits", "upperCase"]
    assert "does not meet the rules marked below" in weak.text
    assert "short1" not in weak.text  # the refused password is never shown back


def test_names_no_rule_the_realm_lacks(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.policy = "length(8)"
    csrf = open_link(client, request_link(services, transport))
    weak = client.post(
        "/reset-password",
        data={"password": "abc", "password_confirmation": "abc", "csrf_token": csrf},
    )
    assert marked(weak.text) == ["length"]
    for absent in ("special", "Uppercase", "Digits"):
        assert absent not in weak.text


def test_a_common_password_is_refused_before_keycloak_with_its_reason(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = request_link(services, transport)
    for password in ("Password123!", "Summer2026!", "alice2024", "Alice1234567"):
        answer = client.post(
            "/api/v1/password-resets/complete",
            json={"token": token, "password": password, "password_confirmation": password},
        )
        body = answer.json()
        assert answer.status_code == 400 and body["result"] == "password_too_common", password
        assert body["reason"] in ("common", "personal", "pattern", "guessable"), body
        assert body["broken_rules"] == [{"rule": "screening", "count": 0}]
    assert keycloak.password_changes == 0  # Keycloak was never asked
    passphrase = "lamp orbit velvet cactus 7"
    done = services.reset.complete(token, passphrase, passphrase)
    assert done is Result.SUCCESS


def test_the_username_counts_as_personal(services: Services, transport: MemoryTransport) -> None:
    token = request_link(services, transport)  # alice
    assert (
        services.reset.complete(token, "alice19881988", "alice19881988")
        is Result.PASSWORD_TOO_COMMON
    )
    link = services.reset.check(token)
    assert link is not None and services.reset.too_common(link, "alice19881988") == "personal"


def test_the_api_lists_broken_rules_beside_keycloaks_answer(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    token = request_link(services, transport)
    answer = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": "abc", "password_confirmation": "abc"},
    )
    body = answer.json()
    assert body["result"] == "invalid_password_length"
    assert body["broken_rules"] == [{"rule": "length", "count": 8}, {"rule": "digits", "count": 1}]
    assert "reason" not in body
    ok = client.get("/openapi.json").json()["components"]["schemas"]["Outcome"]["properties"]
    assert {"broken_rules", "reason"} <= set(ok)
