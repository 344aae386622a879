"""`setup-realm`: prepare a realm for the companion, signed in with admin credentials.

The plan is printed before it is applied: if a step fails, the lines above the error say what
was meant, and a rerun carries on from wherever it stopped (the plan is computed afresh).
"""

from __future__ import annotations

import shlex

from keycloak import KeycloakAdmin

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.operator.console_setup import (
    ConsolePlan,
    apply_console_plan,
    plan_console,
    read_console_state,
)
from keycloak_pwreset.operator.realm_setup import (
    AdminCredentials,
    Plan,
    apply_plan,
    client_secret,
    connect,
    plan_setup,
    read_state,
)
from keycloak_pwreset.settings import (
    AdminSettings,
    ConsoleSettings,
    http_url,
    load_admin_settings,
)


def run_setup_realm(
    *,
    keycloak_url: str | None,
    realm: str | None,
    client_id: str,
    theme: str,
    dry_run: bool,
    show_secret: bool,
    public_url: str | None = None,
) -> int:
    settings = load_admin_settings(keycloak_url=keycloak_url, realm=realm)
    public_url = checked_public_url(public_url)
    url, target = settings.keycloak_url, settings.target_realm
    assert url and target  # load_admin_settings reports them missing
    admin = connect(url, target, credentials(settings))
    login_theme = theme or None  # --theme "": leave the realm's login theme alone
    state = read_state(admin, target, client_id, with_themes=login_theme is not None)
    plan = plan_setup(state, client_id=client_id, login_theme=login_theme)
    console_plan = planned_console(admin, public_url) if public_url else None
    for line in [*plan.lines(), *(console_plan.lines() if console_plan else [])]:
        print(line)
    for line in plan.warnings():
        print(f"warning: {line}")
    if dry_run:
        print("dry run: nothing was changed")
        return 0
    apply_plan(admin, plan)
    secret = client_secret(admin, client_id) if secret_shown(plan, show_secret) else None
    print("\n".join(companion_env(url, target, client_id, secret)))
    if console_plan is not None:
        apply_console_plan(admin, console_plan)
        shown = console_plan.create_client or show_secret
        console_secret = client_secret(admin, console_plan.client_id) if shown else None
        print("\n".join(console_env(console_plan.client_id, console_secret)))
    return 0


def checked_public_url(public_url: str | None) -> str | None:
    if not public_url:
        return None
    try:
        return http_url(public_url)
    except ValueError as exc:
        raise ConfigError(f"--public-url {public_url!r}: {exc}") from None


def planned_console(admin: KeycloakAdmin, public_url: str) -> ConsolePlan:
    """The console's client and role (their default names, as the service expects them)."""
    console = ConsoleSettings()
    state = read_console_state(admin, console.client_id, console.role)
    return plan_console(
        state, client_id=console.client_id, role=console.role, public_url=public_url
    )


def console_env(client_id: str, secret: str | None) -> list[str]:
    """The console's settings (KCPR_CONSOLE__…), shown like the service account's."""
    lines = [f"KCPR_CONSOLE__CLIENT_ID={shlex.quote(client_id)}"]
    if secret:
        return [*lines, f"KCPR_CONSOLE__CLIENT_SECRET={shlex.quote(secret)}"]
    return [
        *lines,
        "# KCPR_CONSOLE__CLIENT_SECRET is not shown: rerun with --show-secret, or copy it "
        f"from the admin console (Clients > {client_id} > Credentials)",
    ]


def credentials(settings: AdminSettings) -> AdminCredentials:
    return AdminCredentials(
        realm=settings.realm,
        user=settings.user,
        password=settings.password.get_secret_value() if settings.password else None,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value() if settings.client_secret else None,
    )


def secret_shown(plan: Plan, show_secret: bool) -> bool:
    # A secret printed lands in scrollback, terminal logs and CI output: a leak. Print it only
    # when this run created the client (nobody can have it yet) or when asked to.
    return plan.create_client or show_secret


def companion_env(url: str, realm: str, client_id: str, secret: str | None) -> list[str]:
    """The companion's Keycloak settings, ready to paste into a shell or an env file."""
    lines = [
        "",
        "Configure the companion with:",
        f"KCPR_KEYCLOAK_URL={shlex.quote(url)}",
        f"KCPR_REALM={shlex.quote(realm)}",
        f"KCPR_CLIENT_ID={shlex.quote(client_id)}",
    ]
    if secret:
        lines.append(f"KCPR_CLIENT_SECRET={shlex.quote(secret)}")
    else:
        lines.append(
            "# KCPR_CLIENT_SECRET is not shown: rerun with --show-secret, or copy it from the "
            f"admin console (Clients > {client_id} > Credentials)"
        )
    return lines
