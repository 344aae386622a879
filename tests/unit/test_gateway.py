from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import keycloak.connection
import pytest
import requests
import responses
from requests import PreparedRequest

from keycloak_pwreset import gateway as gateway_module
from keycloak_pwreset.errors import AccountNotFound, KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.gateway import (
    POLICY_CACHE_SECONDS,
    REQUIRED_ROLES,
    KeycloakGateway,
    KeycloakUser,
    NewAccount,
    user_from_representation,
)
from keycloak_pwreset.password_policy import POLICY_ERRORS
from keycloak_pwreset.protected_roles import ProtectedRoles
from keycloak_pwreset.results import Result

KC = "http://keycloak.test"
REALM = "demo"
TOKEN_URL = f"{KC}/realms/{REALM}/protocol/openid-connect/token"
ADMIN = f"{KC}/admin/realms/{REALM}"
ALL_ROLES = sorted(REQUIRED_ROLES)


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def fake_jwt(roles: list[str]) -> str:
    """An unsigned JWT-shaped access token, like Keycloak's but without a signature."""
    header = {"alg": "none", "typ": "JWT"}
    claims = {
        "sub": "service-account",
        "azp": "keycloak-pwreset",
        "resource_access": {"realm-management": {"roles": roles}, "account": {"roles": ["x"]}},
    }
    return f"{b64url(header)}.{b64url(claims)}.signature"


def user_rep(
    user_id: str,
    username: str,
    email: str,
    *,
    enabled: bool = True,
    locale: str | None = None,
    first: str = "Alice",
    last: str = "Liddell",
) -> dict[str, Any]:
    rep: dict[str, Any] = {
        "id": user_id,
        "username": username,
        "email": email,
        "firstName": first,
        "lastName": last,
        "enabled": enabled,
    }
    if locale is not None:
        rep["attributes"] = {"locale": [locale]}
    return rep


@dataclass
class FakeKeycloakHttp:
    """Keycloak's token and admin endpoints, faked at the HTTP level with `responses`."""

    mock: responses.RequestsMock
    users: list[dict[str, Any]] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: list(ALL_ROLES))
    password_policy: str = "length(8) and digits(1)"
    passwords: dict[str, dict[str, Any]] = field(default_factory=dict)

    def install(self) -> None:
        self.mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        self.mock.add_callback(responses.GET, f"{ADMIN}/users", callback=self._search)
        self.mock.add(
            responses.GET, ADMIN, json={"realm": REALM, "passwordPolicy": self.password_policy}
        )

    def _token(self, request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = {
            "access_token": fake_jwt(self.roles),
            "expires_in": 300,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "scope": "profile email",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _search(self, request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        assert query.get("exact") == "true"
        first, limit = int(query.get("first", 0)), int(query.get("max", 100))
        found = self.users
        for name in ("email", "username"):
            if name in query:
                # Keycloak keeps emails and usernames lower-case and matches exactly.
                found = [u for u in found if str(u.get(name, "")).lower() == query[name].lower()]
        page = found[first : first + limit]
        return 200, {"Content-Type": "application/json"}, json.dumps(page)

    def token_calls(self) -> int:
        return sum(1 for call in self.mock.calls if call.request.url == TOKEN_URL)

    def calls_to(self, method: str, url: str) -> list[Any]:
        return [
            c
            for c in self.mock.calls
            if c.request.method == method and str(c.request.url).split("?")[0] == url
        ]


class _UnusedAsyncClient:
    """Stands in for python-keycloak's httpx.AsyncClient, which the sync gateway never uses."""

    def __init__(self, **kwargs: object) -> None:
        self.auth = None


@pytest.fixture(autouse=True)
def _no_async_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each python-keycloak connection builds an httpx.AsyncClient, loading the
    # CA bundle (~50 ms); skipping it keeps these tests fast.
    monkeypatch.setattr(keycloak.connection.httpx, "AsyncClient", _UnusedAsyncClient)


@pytest.fixture
def kc() -> Iterator[FakeKeycloakHttp]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeKeycloakHttp(mock)
        fake.users.append(user_rep("id-alice", "alice", "alice@example.org", locale="de"))
        fake.install()
        yield fake


@pytest.fixture
def gateway() -> KeycloakGateway:
    return KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret", timeout=2)


# -- find_user ----------------------------------------------------------------


def test_find_user_by_exact_email(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    user = gateway.find_user("alice@example.org")
    assert user == KeycloakUser(
        id="id-alice",
        username="alice",
        email="alice@example.org",
        first_name="Alice",
        last_name="Liddell",
        locale="de",
    )
    [search] = kc.calls_to("GET", f"{ADMIN}/users")
    query = parse_qs(urlsplit(str(search.request.url)).query)
    assert query["email"] == ["alice@example.org"]
    assert query["exact"] == ["true"]


def test_find_user_falls_back_to_username(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    user = gateway.find_user("alice")
    assert user is not None
    assert user.id == "id-alice"
    searches = kc.calls_to("GET", f"{ADMIN}/users")
    # Without an "@" it cannot be an email (Keycloak refuses such addresses): one search.
    assert [list(parse_qs(urlsplit(str(c.request.url)).query)) for c in searches] == [
        ["username", "exact", "max", "first"],
    ]


def test_find_user_is_case_insensitive(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    by_email = gateway.find_user("Alice@Example.ORG")
    by_name = gateway.find_user("ALICE")
    assert by_email is not None and by_email.id == "id-alice"
    assert by_name is not None and by_name.id == "id-alice"


def test_find_user_unknown_is_none(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    assert gateway.find_user("nobody@example.org") is None
    assert gateway.find_user("nobody") is None


def test_find_user_ignores_disabled_users(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.users.append(user_rep("id-bob", "bob", "bob@example.org", enabled=False))
    assert gateway.find_user("bob@example.org") is None
    assert gateway.find_user("bob") is None


def test_find_user_picks_the_enabled_one_of_a_shared_email(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.users.append(user_rep("id-old", "old", "shared@example.org", enabled=False))
    kc.users.append(user_rep("id-new", "new", "shared@example.org"))
    user = gateway.find_user("shared@example.org")
    assert user is not None and user.id == "id-new"


def test_find_user_none_when_two_accounts_share_the_email(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.users.append(user_rep("id-1", "one", "shared@example.org"))
    kc.users.append(user_rep("id-2", "two", "Shared@example.org"))
    assert gateway.find_user("shared@example.org") is None


def test_find_user_ignores_non_exact_matches_from_keycloak(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    # Should a Keycloak version treat `exact` loosely, substring hits are dropped.
    kc.mock.replace(
        responses.GET,
        f"{ADMIN}/users",
        json=[user_rep("id-x", "alice2", "alice@example.org.evil")],
    )
    assert gateway.find_user("alice@example.org") is None


def test_user_without_locale_or_email(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.users.append({"id": "id-carol", "username": "carol", "enabled": True, "attributes": {}})
    user = gateway.find_user("carol")
    assert user is not None
    assert (user.email, user.locale, user.first_name) == ("", "", "")
    assert user.display_name == "carol"


def test_user_from_representation_reads_the_first_locale() -> None:
    rep = user_rep("i", "u", "u@example.org")
    rep["attributes"] = {"locale": ["pt-BR", "en"], "other": ["x"]}
    assert user_from_representation(rep).locale == "pt-BR"
    rep["attributes"] = {"locale": []}
    assert user_from_representation(rep).locale == ""


def test_display_name_is_one_line() -> None:
    rep = user_rep("i", "u", "u@example.org", first="Eve\r\nBcc: x@evil.org", last=" \t Smith ")
    assert user_from_representation(rep).display_name == "Eve Bcc: x@evil.org Smith"


# -- get_user -----------------------------------------------------------------


def test_get_user(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.get(f"{ADMIN}/users/id-alice", json=kc.users[0])
    user = gateway.get_user("id-alice")
    assert user is not None and user.email == "alice@example.org" and user.locale == "de"


def test_get_user_disabled_or_deleted_is_none(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.get(f"{ADMIN}/users/id-bob", json=user_rep("id-bob", "bob", "b@x.org", enabled=False))
    kc.mock.get(f"{ADMIN}/users/id-gone", status=404, json={"error": "User not found"})
    assert gateway.get_user("id-bob") is None
    assert gateway.get_user("id-gone") is None


def test_get_user_when_keycloak_is_down_raises(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.get(f"{ADMIN}/users/id-alice", status=503)
    with pytest.raises(KeycloakUnavailable):
        gateway.get_user("id-alice")


@pytest.mark.parametrize("status", [401, 403])
def test_get_user_does_not_mistake_a_refusal_for_a_missing_user(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway, status: int
) -> None:
    # A service account that lost view-users must not make the worker drop the
    # "your password was changed" email as if the account had been deleted.
    kc.mock.get(f"{ADMIN}/users/id-alice", status=status, json={"error": "forbidden"})
    with pytest.raises(KeycloakRejected):
        gateway.get_user("id-alice")


def test_get_user_with_a_bad_client_secret_raises(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, status=401, json={"error": "unauthorized_client"})
        with pytest.raises(KeycloakRejected, match="KCPR_CLIENT_SECRET"):
            gateway.get_user("id-alice")


# -- set_password ---------------------------------------------------------------


def test_set_password_sends_a_permanent_password(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    url = f"{ADMIN}/users/id-alice/reset-password"
    kc.mock.put(url, status=204)
    assert gateway.set_password("id-alice", "N3w-passphrase!") is Result.SUCCESS
    [call] = kc.calls_to("PUT", url)
    assert json.loads(call.request.body) == {
        "type": "password",
        "value": "N3w-passphrase!",
        "temporary": False,
    }
    assert call.request.headers["Authorization"] == f"Bearer {fake_jwt(ALL_ROLES)}"


def test_set_password_min_length_error(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        status=400,
        json={
            "error": "invalidPasswordMinLengthMessage",
            "error_description": "Invalid password: minimum length 8.",
        },
    )
    assert gateway.set_password("id-alice", "short") is Result.INVALID_PASSWORD_LENGTH


@pytest.mark.parametrize(("key", "expected"), sorted(POLICY_ERRORS.items()))
def test_set_password_maps_every_policy_error(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway, key: str, expected: Result
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        status=400,
        json={"error": key, "error_description": "Invalid password: something."},
    )
    assert gateway.set_password("id-alice", "whatever") is expected


def test_set_password_old_style_error_message_body(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        status=400,
        json={"errorMessage": "invalidPasswordHistoryMessage"},
    )
    assert gateway.set_password("id-alice", "Reused123") is Result.VIOLATING_REUSE_RULES


def test_set_password_unknown_policy_key(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        status=400,
        json={"error": "invalidPasswordCustomRuleMessage"},
    )
    assert gateway.set_password("id-alice", "x") is Result.INVALID_PASSWORD_COMPLEXITY


def test_set_password_generic_error_with_password_age_policy(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeKeycloakHttp(mock, password_policy="length(8) and passwordAge(30)")
        fake.install()
        mock.put(
            f"{ADMIN}/users/id-alice/reset-password",
            status=400,
            json={"error": "invalidPasswordGenericMessage"},
        )
        assert gateway.set_password("id-alice", "Recent123") is Result.VIOLATING_REUSE_RULES


def test_set_password_400_that_is_not_a_policy_error_is_rejected(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password", status=400, json={"error": "unknown_error"}
    )
    with pytest.raises(KeycloakRejected, match=r"\(400\)"):
        gateway.set_password("id-alice", "x")


def test_set_password_on_a_missing_user_is_account_not_found(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-gone/reset-password", status=404, json={"error": "User not found"}
    )
    with pytest.raises(AccountNotFound):
        gateway.set_password("id-gone", "Valid123!")


def test_set_password_forbidden_is_rejected(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.put(f"{ADMIN}/users/id-alice/reset-password", status=403, json={"error": "forbidden"})
    with pytest.raises(KeycloakRejected):
        gateway.set_password("id-alice", "Valid123!")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_set_password_5xx_is_unavailable(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway, status: int
) -> None:
    kc.mock.put(f"{ADMIN}/users/id-alice/reset-password", status=status, body="oops")
    with pytest.raises(KeycloakUnavailable, match=str(status)):
        gateway.set_password("id-alice", "Valid123!")


def test_set_password_connection_refused_is_unavailable(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        body=requests.ConnectionError("Connection refused"),
    )
    with pytest.raises(KeycloakUnavailable, match=r"unreachable at http://keycloak\.test"):
        gateway.set_password("id-alice", "Valid123!")


def test_connection_refused_on_sign_in_is_unavailable(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, body=requests.ConnectionError("Connection refused"))
        with pytest.raises(KeycloakUnavailable, match="unreachable"):
            gateway.find_user("alice")
        with pytest.raises(KeycloakUnavailable):
            gateway.set_password("id-alice", "Valid123!")


def test_sign_in_5xx_is_unavailable(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, status=503, body="starting")
        with pytest.raises(KeycloakUnavailable, match="503"):
            gateway.find_user("alice")


def test_search_5xx_and_refused_are_unavailable(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.replace(responses.GET, f"{ADMIN}/users", status=500)
    with pytest.raises(KeycloakUnavailable, match="500"):
        gateway.find_user("alice")
    kc.mock.replace(responses.GET, f"{ADMIN}/users", body=requests.ConnectionError("refused"))
    with pytest.raises(KeycloakUnavailable):
        gateway.find_user("alice")


def test_unavailable_messages_are_one_line_and_secret_free(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, status=401, json={"error": "unauthorized_client"})
        with pytest.raises(KeycloakRejected) as info:
            gateway.find_user("alice")
    message = str(info.value)
    assert "\n" not in message
    assert "s3cret" not in message


# -- service-account token ---------------------------------------------------------


def test_token_is_fetched_once_and_reused(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.put(f"{ADMIN}/users/id-alice/reset-password", status=204)
    kc.mock.post(f"{ADMIN}/users/id-alice/logout", status=204)
    for _ in range(5):
        assert gateway.find_user("alice@example.org") is not None
        assert gateway.set_password("id-alice", "Valid123!") is Result.SUCCESS
        gateway.logout("id-alice")
    assert gateway.missing_roles() == []
    assert kc.token_calls() == 1
    assert len(kc.calls_to("PUT", f"{ADMIN}/users/id-alice/reset-password")) == 5


def test_token_is_fetched_once_under_concurrency(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    barrier = threading.Barrier(8)
    found: list[KeycloakUser | None] = []

    def look_up() -> None:
        barrier.wait(timeout=5)
        found.append(gateway.find_user("alice@example.org"))

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(found) == 8 and all(u is not None for u in found)
    assert kc.token_calls() == 1


def test_token_request_uses_client_credentials(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    gateway.find_user("alice")
    [call] = [c for c in kc.mock.calls if c.request.url == TOKEN_URL]
    form = parse_qs(str(call.request.body))
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["keycloak-pwreset"]
    assert form["client_secret"] == ["s3cret"]


@pytest.mark.parametrize("status", [400, 401])
def test_bad_client_secret_is_rejected_naming_the_settings(
    gateway: KeycloakGateway, status: int
) -> None:
    with responses.RequestsMock() as mock:
        mock.post(
            TOKEN_URL,
            status=status,
            json={"error": "unauthorized_client", "error_description": "Invalid client secret"},
        )
        with pytest.raises(KeycloakRejected) as info:
            gateway.find_user("alice")
    message = str(info.value)
    assert "KCPR_CLIENT_ID" in message
    assert "KCPR_CLIENT_SECRET" in message
    assert "'demo'" in message


def test_failed_sign_in_is_retried_on_the_next_call(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeKeycloakHttp(mock)
        fake.users.append(user_rep("id-alice", "alice", "alice@example.org"))
        mock.post(TOKEN_URL, body=requests.ConnectionError("refused"))
        with pytest.raises(KeycloakUnavailable):
            gateway.find_user("alice")
        mock.remove(responses.POST, TOKEN_URL)
        fake.install()
        assert gateway.find_user("alice") is not None


# -- roles, policy, logout, ping ----------------------------------------------------


def test_missing_roles_names_the_roles_absent_from_the_token(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeKeycloakHttp(mock, roles=["view-users", "manage-users", "impersonation"]).install()
        assert gateway.service_account_roles() == {"view-users", "manage-users", "impersonation"}
        assert gateway.missing_roles() == ["query-users", "view-clients", "view-realm"]


def test_missing_roles_all_when_token_has_none(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, json={"access_token": "not-a-jwt", "expires_in": 300})
        assert gateway.missing_roles() == ALL_ROLES


def test_missing_roles_none_when_all_granted(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    assert gateway.missing_roles() == []


def test_password_policy_is_read_and_cached(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(gateway_module.time, "monotonic", lambda: now[0])
    assert gateway.password_policy() == "length(8) and digits(1)"
    now[0] += POLICY_CACHE_SECONDS - 1
    assert gateway.password_policy() == "length(8) and digits(1)"
    assert len(kc.calls_to("GET", ADMIN)) == 1
    now[0] += 2
    kc.mock.replace(responses.GET, ADMIN, json={"passwordPolicy": "length(12)"})
    assert gateway.password_policy() == "length(12)"
    assert len(kc.calls_to("GET", ADMIN)) == 2


def test_password_policy_is_cached_across_rejected_passwords(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.put(
        f"{ADMIN}/users/id-alice/reset-password",
        status=400,
        json={"error": "invalidPasswordMinDigitsMessage"},
    )
    for _ in range(4):
        assert gateway.set_password("id-alice", "x") is Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
    assert len(kc.calls_to("GET", ADMIN)) == 1


def test_password_policy_without_view_realm_is_empty(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.replace(responses.GET, ADMIN, status=403, json={"error": "forbidden"})
    assert gateway.password_policy() == ""


def test_realm_without_a_policy_is_empty(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.replace(responses.GET, ADMIN, json={"realm": REALM})
    assert gateway.password_policy() == ""


def test_logout(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    url = f"{ADMIN}/users/id-alice/logout"
    kc.mock.post(url, status=204)
    gateway.logout("id-alice")
    assert len(kc.calls_to("POST", url)) == 1


def test_logout_failures(kc: FakeKeycloakHttp, gateway: KeycloakGateway) -> None:
    kc.mock.post(f"{ADMIN}/users/id-gone/logout", status=404, json={"error": "User not found"})
    kc.mock.post(f"{ADMIN}/users/id-alice/logout", status=502)
    with pytest.raises(KeycloakRejected):
        gateway.logout("id-gone")
    with pytest.raises(KeycloakUnavailable):
        gateway.logout("id-alice")


def test_ping_true_when_the_realm_answers(gateway: KeycloakGateway) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{KC}/realms/{REALM}", json={"realm": REALM})
        assert gateway.ping() is True
        # The public realm endpoint needs no token.
        assert all(c.request.url != TOKEN_URL for c in mock.calls)


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 404, "json": {"error": "Realm does not exist"}},
        {"status": 503, "body": "starting"},
        {"body": requests.ConnectionError("refused")},
        {"body": requests.Timeout("slow")},
    ],
)
def test_ping_false_otherwise(gateway: KeycloakGateway, reply: dict[str, Any]) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{KC}/realms/{REALM}", **reply)
        assert gateway.ping() is False


def test_server_url_with_a_path_and_trailing_slash() -> None:
    base = "http://sso.test/auth"
    gw = KeycloakGateway(base + "/", "corp", "svc", "secret")
    with responses.RequestsMock() as mock:
        mock.post(
            f"{base}/realms/corp/protocol/openid-connect/token",
            json={"access_token": fake_jwt(ALL_ROLES), "expires_in": 300},
        )
        mock.get(
            f"{base}/admin/realms/corp/users",
            json=[user_rep("id-z", "zed", "zed@example.org")],
        )
        mock.get(f"{base}/realms/corp", json={"realm": "corp"})
        user = gw.find_user("zed@example.org")
        assert user is not None and user.id == "id-z"
        assert gw.ping()


# -- protected accounts (administrators are never self-service's to reset) -----

RM_UUID = "uuid-realm-management"


def install_roles(kc: FakeKeycloakHttp, client_roles: dict[str, list[str]]) -> None:
    """realm-management's id, and each user's effective roles of it (groups, composites)."""
    kc.mock.add(
        responses.GET,
        f"{ADMIN}/clients",
        match=[responses.matchers.query_param_matcher({"clientId": "realm-management"})],
        json=[{"id": RM_UUID, "clientId": "realm-management"}],
    )
    for user_id, roles in client_roles.items():
        kc.mock.add(
            responses.GET,
            f"{ADMIN}/users/{user_id}/role-mappings/clients/{RM_UUID}/composite",
            json=[{"name": r} for r in roles],
        )


def test_a_realm_management_role_protects_the_account(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    install_roles(kc, {"id-admin": ["view-users"], "id-alice": []})
    assert gateway.is_protected("id-admin") is True
    assert gateway.is_protected("id-alice") is False
    # The client's id is looked up once; then each check is a single call.
    gateway.is_protected("id-alice")
    assert len(kc.calls_to("GET", f"{ADMIN}/clients")) == 1


def test_an_invisible_client_fails_closed_with_the_fix(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    # Keycloak lists no client to an account that may not view clients.
    kc.mock.add(responses.GET, f"{ADMIN}/clients", json=[])
    with pytest.raises(KeycloakRejected, match="view-clients"):
        gateway.is_protected("id-alice")


def test_configured_realm_roles_protect_too(kc: FakeKeycloakHttp) -> None:
    install_roles(kc, {"id-auditor": []})
    kc.mock.add(
        responses.GET,
        f"{ADMIN}/users/id-auditor/role-mappings/realm/composite",
        json=[{"name": "default-roles-demo"}, {"name": "auditor"}],
    )
    protected = ProtectedRoles.from_settings(["auditor"], include_default=True)
    gateway = KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret", protected=protected)
    assert gateway.is_protected("id-auditor") is True
    unprotected = ProtectedRoles.from_settings(["other"], include_default=True)
    gateway = KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret", protected=unprotected)
    assert gateway.is_protected("id-auditor") is False


def test_nothing_protected_costs_no_call(kc: FakeKeycloakHttp) -> None:
    nothing = ProtectedRoles.from_settings([], include_default=False)
    gateway = KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret", protected=nothing)
    assert gateway.is_protected("id-alice") is False
    assert len(kc.mock.calls) == 0


def test_a_failed_role_lookup_raises_rather_than_reading_as_unprotected(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    install_roles(kc, {})
    kc.mock.add(
        responses.GET, f"{ADMIN}/users/id-x/role-mappings/clients/{RM_UUID}/composite", status=503
    )
    with pytest.raises(KeycloakUnavailable):
        gateway.is_protected("id-x")


def test_find_user_by_email_reports_a_disabled_account(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.users.append(user_rep("id-bob", "bob", "bob@example.org", enabled=False))
    bob = gateway.find_user_by_email("bob@example.org")
    assert bob is not None and bob.enabled is False


def test_check_proves_the_protected_clients_are_visible(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    kc.mock.add(responses.GET, f"{ADMIN}/clients", json=[])
    with pytest.raises(KeycloakRejected, match="view-clients"):
        gateway.check_protection()
    install_roles(kc, {})
    fresh = KeycloakGateway(KC, REALM, "keycloak-pwreset", "s3cret")
    kc.mock.replace(
        responses.GET, f"{ADMIN}/clients", json=[{"id": RM_UUID, "clientId": "realm-management"}]
    )
    fresh.check_protection()  # no exception: the default's client is visible


# -- create_user ----------------------------------------------------------------


def test_a_create_refused_without_a_rule_name_gets_the_rule_broken(
    kc: FakeKeycloakHttp, gateway: KeycloakGateway
) -> None:
    """Keycloak 24 and 25 answer a refused create-with-credentials without the rule's key."""
    kc.mock.post(f"{ADMIN}/users", status=400, json={"errorMessage": "Password policy not met"})
    kc.mock.replace(responses.GET, ADMIN, json={"passwordPolicy": "length(8) and digits(1)"})
    account = NewAccount(email="new@example.org", first_name="N", last_name="N", password="short")
    assert gateway.create_user(account) is Result.INVALID_PASSWORD_LENGTH
    nodigit = NewAccount(
        email="n2@example.org", first_name="N", last_name="N", password="longenough"
    )
    assert gateway.create_user(nodigit) is Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
