"""Every rule the pages show is what Keycloak then enforces, on the Keycloak under test.

Two realms with a policy each (the countable rules; identity and history), the service
with its screening off so that Keycloak judges every password: for each rule, a password
that breaks that rule alone is marked as breaking it, and Keycloak refuses it with that
rule's code; a password that meets them all is accepted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from keycloak_pwreset.password_rules import RESULT_OF, parse_policy
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.conftest import TEST_LIMITS
from tests.helpers import reset_link
from tests.integration.test_reset_flow import wait_count

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core

COUNTED = (
    "length(10) and maxLength(24) and digits(2) and lowerCase(1) and upperCase(2) "
    "and specialChars(1)"
)
IDENTITY = "notUsername and notEmail and passwordHistory(2)"
# For each rule: a password that breaks it and meets every other rule of its policy.
BREAKING_COUNTED = {
    "length": "Ab1!Cd2",
    "maxLength": "Ab1!Cd2" + "x" * 20,
    "digits": "Ab!Cdefgh1",
    "lowerCase": "AB1!CD2EFG",
    "upperCase": "Ab1!cd2efg",
    "specialChars": "Ab1xCd2efg",
}


def realm_service(
    keycloak: KeycloakHandle,
    sink: SmtpSink,
    work: Path,
    new_store: Callable[[Path], str],
    policy: str,
) -> tuple[ServiceHandle, str]:
    realm = keycloak.new_realm(f"rules-{secrets.token_hex(3)}", password_policy=policy)
    name = f"rules{secrets.token_hex(3)}"
    keycloak.add_user(
        realm.realm, DemoUser(name, f"{name}@example.org", "Zz9!Start-pass00", "Rule", "Tester")
    )
    service = ServiceHandle.start(
        realm,
        sink,
        work,
        database_url=new_store(work),
        limits=TEST_LIMITS,
        passwords={"screening": False},  # Keycloak judges every password here
    )
    return service, name


@pytest.fixture(scope="module")
def counted(
    keycloak: KeycloakHandle,
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[[Path], str],
) -> Iterator[tuple[ServiceHandle, str]]:
    handle = realm_service(keycloak, sink, tmp_path_factory.mktemp("counted"), new_store, COUNTED)
    yield handle
    handle[0].stop()


@pytest.fixture(scope="module")
def identity(
    keycloak: KeycloakHandle,
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[[Path], str],
) -> Iterator[tuple[ServiceHandle, str]]:
    handle = realm_service(keycloak, sink, tmp_path_factory.mktemp("ident"), new_store, IDENTITY)
    yield handle
    handle[0].stop()


def token_for(service: ServiceHandle, sink: SmtpSink, name: str) -> str:
    email = f"{name}@example.org"
    before = len([m for m in sink.messages if email in m.rcpt_tos])
    sent = requests.post(
        service.url + "/api/v1/password-resets", json={"identifier": name}, timeout=30
    )
    assert sent.status_code == 202
    mail = wait_count(sink, email, "Reset your password", before + 1)[-1]
    return reset_link(mail, service).split("token=")[1]


def attempt(service: ServiceHandle, token: str, password: str) -> dict[str, object]:
    body = {"token": token, "password": password, "password_confirmation": password}
    answer = requests.post(service.url + "/api/v1/password-resets/complete", json=body, timeout=30)
    return dict(answer.json())


def broken(answer: dict[str, object]) -> list[str]:
    rules = answer.get("broken_rules") or []
    assert isinstance(rules, list)
    return [str(rule["rule"]) for rule in rules]


def test_the_page_lists_exactly_the_realm_rules(
    counted: tuple[ServiceHandle, str], sink: SmtpSink
) -> None:
    service, name = counted
    browser = requests.Session()
    browser.get(f"{service.url}/reset-password?token={token_for(service, sink, name)}", timeout=30)
    page = browser.get(service.url + "/reset-password", timeout=30).text
    shown = [kind for kind in RESULT_OF if f'data-rule="{kind}"' in page]
    assert sorted(shown) == sorted(rule.kind for rule in parse_policy(COUNTED))


def test_each_counted_rule_is_enforced_as_shown(
    counted: tuple[ServiceHandle, str], sink: SmtpSink
) -> None:
    service, name = counted
    token = token_for(service, sink, name)
    for rule, password in BREAKING_COUNTED.items():
        answer = attempt(service, token, password)
        assert broken(answer) == [rule], (rule, answer)
        assert answer["result"] == RESULT_OF[rule].value, (rule, answer)  # Keycloak agrees
    assert attempt(service, token, "Ab1!Cd2efgh")["result"] == "success"


def test_identity_and_history_are_enforced_as_shown(
    identity: tuple[ServiceHandle, str], sink: SmtpSink
) -> None:
    service, name = identity
    token = token_for(service, sink, name)
    as_username = attempt(service, token, name)
    assert broken(as_username) == ["notUsername"]
    assert as_username["result"] == "password_contains_identity"
    as_email = attempt(service, token, f"{name}@example.org")
    assert broken(as_email) == ["notEmail"] and as_email["result"] == "password_contains_identity"
    assert attempt(service, token, "Fine-new-pass-1")["result"] == "success"
    # History: only Keycloak knows it, and its answer marks the rule.
    again = attempt(service, token_for(service, sink, name), "Fine-new-pass-1")
    assert again["result"] == "violating_reuse_rules"
    assert broken(again) == ["passwordHistory"]
