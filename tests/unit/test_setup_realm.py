"""setup-realm: the planner on fake realm states, the secret rules, a whole run on a fake API."""

from __future__ import annotations

import os
from typing import Any

import pytest
from keycloak.exceptions import KeycloakGetError

from keycloak_pwreset.cli import main
from keycloak_pwreset.commands import setup_realm as command
from keycloak_pwreset.commands.setup_realm import companion_env, secret_shown
from keycloak_pwreset.errors import ConfigError, RealmSetupError
from keycloak_pwreset.operator.realm_setup import CLIENT_FLAGS, Plan, RealmState, plan_setup
from keycloak_pwreset.settings import load_admin_settings

THEMES = frozenset({"base", "keycloak", "keycloak.v2", "keycloak-pwreset"})
ALL_ROLES = frozenset({"view-users", "query-users", "manage-users", "view-realm", "view-clients"})
PREPARED_REALM = {
    "realm": "demo",
    "resetPasswordAllowed": False,
    "registrationAllowed": False,
    "loginTheme": "keycloak-pwreset",
}
PREPARED_CLIENT = {"id": "uuid-1", "clientId": "keycloak-pwreset", **CLIENT_FLAGS}


def fresh() -> RealmState:
    return RealmState(
        "demo",
        {"realm": "demo", "resetPasswordAllowed": True, "registrationAllowed": True},
        None,
        login_themes=THEMES,
    )


def test_fresh_realm_plans_everything() -> None:
    plan = plan_setup(fresh(), login_theme="keycloak-pwreset")
    assert plan.lines() == [
        "realm demo: resetPasswordAllowed true -> false",
        "realm demo: registrationAllowed true -> false",
        "realm demo: loginTheme (unset) -> keycloak-pwreset",
        "client keycloak-pwreset: create (service account, confidential)",
        "service account: grant realm-management roles manage-users, query-users, view-clients, "
        "view-realm, view-users",
    ]
    assert plan.create_client and not plan.client_changes
    assert plan.warnings() == []


def test_prepared_realm_plans_nothing() -> None:
    state = RealmState("demo", PREPARED_REALM, PREPARED_CLIENT, ALL_ROLES, THEMES)
    plan = plan_setup(state, login_theme="keycloak-pwreset")
    assert plan.empty
    assert plan.lines() == ["realm demo: nothing to change"]
    assert plan.warnings() == []


def test_partly_prepared_realm_plans_exactly_the_gaps_and_warns_about_extra_roles() -> None:
    client = {**PREPARED_CLIENT, "standardFlowEnabled": True}
    roles = (ALL_ROLES - {"manage-users"}) | {"manage-realm", "realm-admin"}
    state = RealmState("demo", PREPARED_REALM, client, roles, THEMES)
    plan = plan_setup(state, login_theme="keycloak-pwreset")
    assert plan.lines() == [
        "client keycloak-pwreset: standardFlowEnabled true -> false",
        "service account: grant realm-management role manage-users",
    ]
    assert not plan.create_client
    assert plan.extra_roles == ("manage-realm", "realm-admin")
    [warning] = plan.warnings()
    assert "manage-realm, realm-admin" in warning and "least privilege" in warning


def test_a_public_client_is_made_confidential() -> None:
    client = {**PREPARED_CLIENT, "publicClient": True, "serviceAccountsEnabled": False}
    plan = plan_setup(RealmState("demo", PREPARED_REALM, client), login_theme=None)
    assert plan.client_changes == {
        "publicClient": (True, False),
        "serviceAccountsEnabled": (False, True),
    }
    assert plan.grants == tuple(sorted(ALL_ROLES))


@pytest.mark.parametrize("theme", [None, ""])
def test_no_theme_never_plans_a_theme_change(theme: str | None) -> None:
    realm = {**PREPARED_REALM, "loginTheme": "corporate"}
    state = RealmState("demo", realm, PREPARED_CLIENT, ALL_ROLES, login_themes=None)
    assert plan_setup(state, login_theme=theme).empty
    assert all("loginTheme" not in line for line in plan_setup(fresh(), login_theme=theme).lines())


def test_a_theme_keycloak_lacks_is_refused_before_anything_changes() -> None:
    with pytest.raises(RealmSetupError, match=r"no login theme 'nope'.*--theme ''"):
        plan_setup(fresh(), login_theme="nope")


def test_a_theme_is_set_unchecked_when_the_installed_ones_are_unknown() -> None:
    state = RealmState("demo", PREPARED_REALM, PREPARED_CLIENT, ALL_ROLES, login_themes=None)
    assert plan_setup(state, login_theme="corporate").realm_changes == {
        "loginTheme": ("keycloak-pwreset", "corporate")
    }


def test_the_secret_is_shown_only_when_new_or_asked_for() -> None:
    created, existing = Plan("demo", "c", create_client=True), Plan("demo", "c")
    assert secret_shown(created, show_secret=False)
    assert not secret_shown(existing, show_secret=False)
    assert secret_shown(existing, show_secret=True)


def test_companion_env_prints_the_secret_or_says_how_to_get_it() -> None:
    shown = companion_env("http://kc.test", "demo", "keycloak-pwreset", "s3cret")
    assert "KCPR_CLIENT_SECRET=s3cret" in shown
    assert "KCPR_KEYCLOAK_URL=http://kc.test" in shown and "KCPR_REALM=demo" in shown
    hidden = companion_env("http://kc.test", "my realm", "keycloak-pwreset", None)
    assert "KCPR_REALM='my realm'" in hidden  # pastes into a shell as is
    assert not any(line.startswith("KCPR_CLIENT_SECRET=") for line in hidden)
    assert any("--show-secret" in line for line in hidden)


# -- admin settings ------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.upper().startswith("KCPR_"):
            monkeypatch.delenv(name)
    return monkeypatch


def admin_config_error(**flags: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_admin_settings(**flags)
    first, *lines = str(info.value).splitlines()
    assert first == "invalid configuration:"
    return [line.strip() for line in lines]


def test_admin_settings_name_every_missing_piece(clean_env: pytest.MonkeyPatch) -> None:
    assert admin_config_error() == [
        "--keycloak-url or KCPR_KEYCLOAK_URL: is required",
        "--realm or KCPR_REALM: is required",
        "admin credentials are required: KCPR_ADMIN_USER and KCPR_ADMIN_PASSWORD, "
        "or KCPR_ADMIN_CLIENT_ID and KCPR_ADMIN_CLIENT_SECRET",
    ]
    clean_env.setenv("KCPR_ADMIN_USER", "admin")
    assert admin_config_error(keycloak_url="ftp://kc", realm="demo") == [
        "--keycloak-url or KCPR_KEYCLOAK_URL: must be an http:// or https:// URL"
    ]
    assert admin_config_error(keycloak_url="http://kc", realm="demo") == [
        "KCPR_ADMIN_PASSWORD: is required with KCPR_ADMIN_USER"
    ]
    clean_env.setenv("KCPR_ADMIN_CLIENT_ID", "ops")
    assert admin_config_error(keycloak_url="http://kc", realm="demo") == [
        "set KCPR_ADMIN_USER or KCPR_ADMIN_CLIENT_ID, not both"
    ]


def test_admin_settings_flags_win_over_the_companions_variables(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("KCPR_KEYCLOAK_URL", "http://env.test/")
    clean_env.setenv("KCPR_REALM", "from-env")
    clean_env.setenv("KCPR_ADMIN_CLIENT_ID", "ops")
    clean_env.setenv("KCPR_ADMIN_CLIENT_SECRET", "ops-secret")
    clean_env.setenv("KCPR_ADMIN_USER", "")  # empty counts as unset
    settings = load_admin_settings()
    assert (settings.keycloak_url, settings.target_realm, settings.realm) == (
        "http://env.test",
        "from-env",
        "master",
    )
    assert load_admin_settings(realm="from-flag").target_realm == "from-flag"


# -- a whole run on a fake admin API -------------------------------------------------------


class FakeConnection:
    server_url = "http://kc.test/"
    realm_name = "demo"


class FakeAdmin:
    """The admin calls setup-realm makes, on dictionaries; records every write."""

    def __init__(self) -> None:
        self.connection = FakeConnection()
        self.realm: dict[str, Any] = {"realm": "demo", "resetPasswordAllowed": True}
        self.clients: dict[str, dict[str, Any]] = {
            "rm": {"id": "rm", "clientId": "realm-management"}
        }
        self.mapped: set[str] = set()
        self.writes: list[str] = []

    def get_realm(self, name: str) -> dict[str, Any]:
        return dict(self.realm)

    def update_realm(self, name: str, payload: dict[str, Any]) -> None:
        self.writes.append(f"realm {sorted(payload)}")
        self.realm.update(payload)

    def get_client_id(self, client_id: str) -> str | None:
        return next((k for k, c in self.clients.items() if c["clientId"] == client_id), None)

    def get_client(self, uuid: str) -> dict[str, Any]:
        return dict(self.clients[uuid])

    def create_client(self, payload: dict[str, Any]) -> str:
        self.writes.append("create client")
        uuid = "new" if "new" not in self.clients else f"new-{len(self.clients)}"
        self.clients[uuid] = {"id": uuid, **payload}
        return uuid

    def update_client(self, uuid: str, payload: dict[str, Any]) -> None:
        self.writes.append("update client")
        self.clients[uuid] = payload

    def get_client_service_account_user(self, uuid: str) -> dict[str, str]:
        return {"id": "sa"}

    def get_client_roles_of_user(self, user: str, client: str) -> list[dict[str, str]]:
        return [{"name": name} for name in self.mapped]

    def get_client_role(self, client: str, name: str) -> dict[str, str]:
        return {"name": name}

    def assign_client_role(self, user: str, client: str, roles: list[dict[str, str]]) -> None:
        self.writes.append("grant")
        self.mapped |= {role["name"] for role in roles}

    def get_client_secrets(self, uuid: str) -> dict[str, str]:
        return {"type": "secret", "value": "fresh-secret"}

    def get_server_info(self) -> dict[str, Any]:
        return {"themes": {"login": [{"name": "keycloak.v2"}]}}

    realm_roles: set[str]

    def get_realm_role(self, name: str) -> dict[str, str]:
        if name not in getattr(self, "realm_roles", set()):
            raise KeycloakGetError("Could not find role", response_code=404)
        return {"name": name}

    def create_realm_role(self, payload: dict[str, Any], skip_exists: bool = False) -> str:
        self.writes.append(f"create role {payload['name']}")
        self.realm_roles = {*getattr(self, "realm_roles", set()), payload["name"]}
        return str(payload["name"])


@pytest.fixture
def fake(clean_env: pytest.MonkeyPatch) -> FakeAdmin:
    admin = FakeAdmin()
    clean_env.setenv("KCPR_ADMIN_USER", "admin")
    clean_env.setenv("KCPR_ADMIN_PASSWORD", "pw")
    clean_env.setattr(command, "connect", lambda *args: admin)
    return admin


ARGS = ["setup-realm", "--keycloak-url", "http://kc.test", "--realm", "demo", "--theme", ""]


def test_a_run_applies_the_plan_and_a_rerun_changes_nothing(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGS, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "client keycloak-pwreset: create (service account, confidential)" in out
    assert "dry run: nothing was changed" in out and "KCPR_CLIENT_SECRET" not in out
    assert fake.writes == []

    assert main(ARGS) == 0
    out = capsys.readouterr().out
    assert "realm demo: resetPasswordAllowed true -> false" in out
    assert "KCPR_CLIENT_SECRET=fresh-secret" in out  # created in this run
    assert fake.writes == [
        "realm ['registrationAllowed', 'resetPasswordAllowed']",
        "create client",
        "grant",
    ]
    assert fake.mapped == ALL_ROLES

    fake.writes.clear()
    assert main(ARGS) == 0
    out = capsys.readouterr().out
    assert out.startswith("realm demo: nothing to change\n")
    assert "KCPR_CLIENT_SECRET=" not in out and "--show-secret" in out
    assert fake.writes == []
    assert main([*ARGS, "--show-secret"]) == 0
    assert "KCPR_CLIENT_SECRET=fresh-secret" in capsys.readouterr().out


def test_a_missing_theme_stops_the_run_with_one_line(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGS[:-1], "keycloak-pwreset"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no login theme 'keycloak-pwreset'" in err
    assert fake.writes == []


def test_with_a_public_url_the_console_gets_its_client_and_role(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*ARGS, "--public-url", "https://help.example.org/"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "realm role pwreset-admin: create (enters the admin console)" in out
    assert "client keycloak-pwreset-admin: create (admin console sign-in" in out
    assert fake.writes == []
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "KCPR_CONSOLE__CLIENT_ID=keycloak-pwreset-admin" in out
    assert "KCPR_CONSOLE__CLIENT_SECRET=fresh-secret" in out
    console = next(c for c in fake.clients.values() if c["clientId"] == "keycloak-pwreset-admin")
    assert console["standardFlowEnabled"] and not console["directAccessGrantsEnabled"]
    assert not console["serviceAccountsEnabled"] and not console["publicClient"]
    assert console["redirectUris"] == ["https://help.example.org/admin/callback"]
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"
    assert console["attributes"]["post.logout.redirect.uris"] == "https://help.example.org/admin"
    fake.writes.clear()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert fake.writes == [] and "KCPR_CONSOLE__CLIENT_SECRET=" not in out
    # A redirect changed by hand (to somewhere else) is put back.
    console["redirectUris"] = ["https://evil.example/*"]
    assert main(args) == 0
    assert (
        "redirectUris ['https://evil.example/*'] -> ['https://help.example.org/admin/callback']"
        in (capsys.readouterr().out)
    )
    console = next(c for c in fake.clients.values() if c["clientId"] == "keycloak-pwreset-admin")
    assert console["redirectUris"] == ["https://help.example.org/admin/callback"]


def test_a_public_url_that_is_not_one_is_refused(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGS, "--public-url", "help.example.org"]) == 2
    assert "--public-url 'help.example.org': must be an http:// or https:// URL" in (
        capsys.readouterr().err
    )
