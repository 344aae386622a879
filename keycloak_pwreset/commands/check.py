"""`check`: prove the configuration works before people depend on it.

Each problem is one line saying what to fix; the exit code is non-zero if
there is any.
"""

from __future__ import annotations

import smtplib

from keycloak_pwreset.captcha import SiteVerifyCaptcha, build_verifier
from keycloak_pwreset.errors import PwresetError
from keycloak_pwreset.gateway import REQUIRED_ROLES
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.routing import MailRouting
from keycloak_pwreset.mail.transport import SmtpTransport
from keycloak_pwreset.operator.templates_check import KINDS, template_problems
from keycloak_pwreset.services import keycloak_gateway, template_dirs
from keycloak_pwreset.settings import Settings, load_settings
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.forwarding import ForwardingPeers
from keycloak_pwreset.web.limit_counts import probe_store


def check_keycloak(settings: Settings) -> list[str]:
    gateway = keycloak_gateway(settings)
    if not gateway.ping():
        return [
            f"Keycloak: realm {settings.realm!r} is not reachable at {settings.keycloak_url} "
            "(check KCPR_KEYCLOAK_URL and KCPR_REALM)"
        ]
    try:
        missing = gateway.missing_roles()
    except PwresetError as exc:
        return [f"Keycloak: {exc}"]
    problems = [
        f"Keycloak: the service account lacks the realm-management role {role!r} "
        f"(needed to {REQUIRED_ROLES[role]})"
        for role in missing
    ]
    if not missing:
        try:
            gateway.check_protection()
        except PwresetError as exc:
            problems.append(f"Keycloak: {exc}")
    if settings.signup_enabled and not missing:
        problems += [
            f"Keycloak: group {path!r} (KCPR_SIGNUP_DEFAULT_GROUPS) does not exist"
            for path in gateway.missing_groups(settings.signup_default_groups)
        ]
    return problems


def check_smtp(settings: Settings) -> list[str]:
    """Connect and log in to every SMTP profile."""
    problems = []
    for name, profile in {"default": settings.smtp, **settings.smtp_profiles}.items():
        try:
            client = SmtpTransport(profile).open()
        except PwresetError as exc:
            problems.append(f"SMTP profile {name!r}: {exc}")
            continue
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return problems


def check_captcha(settings: Settings) -> list[str]:
    """The configured CAPTCHA provider exists, is reachable and takes the secret."""
    try:
        verifier = build_verifier(settings.captcha, settings.public_url)
    except PwresetError as exc:
        return [str(exc)]
    problem = verifier.probe() if isinstance(verifier, SiteVerifyCaptcha) else None
    return [f"CAPTCHA ({settings.captcha.provider}): {problem}"] if problem else []


def check_limits_store(settings: Settings) -> list[str]:
    """The Redis of the shared per-client limits answers (KCPR_LIMITS__STORAGE_URI)."""
    problem = probe_store(settings.limits)
    return [problem] if problem else []


def check_templates(settings: Settings) -> list[str]:
    renderer = EmailRenderer(template_dirs(settings, "emails"))
    return [f"templates: {line}" for line in template_problems(settings, renderer)]


def alignment_warnings(settings: Settings) -> list[str]:
    """From addresses whose domain differs from the SMTP login's: a DMARC-alignment hint."""
    routing = MailRouting(settings.mail)
    warnings = set()
    for kind in KINDS:
        for locale in settings.locales:
            route = routing.route(kind, locale)
            login = settings.smtp_profile(route.profile).username or ""
            sender_domain = route.sender.from_address.rpartition("@")[2].lower()
            login_domain = login.rpartition("@")[2].lower() if "@" in login else ""
            if login_domain and sender_domain != login_domain:
                warnings.add(
                    f"From {route.sender.from_address} ({kind}) is sent through SMTP login "
                    f"{login} of another domain: make sure SPF/DKIM cover {sender_domain} "
                    "(DMARC alignment), or receivers may reject it"
                )
    return sorted(warnings)


MAX_PEERS_NAMED = 5


def forwarding_warnings(db: Database) -> list[str]:
    """Peers that sent X-Forwarded-For lately without being in KCPR_TRUSTED_PROXIES.

    The web layer notes them (web/forwarding.py). Behind a proxy missing from the
    list, every visitor has the proxy's address and shares one rate limit; a peer
    that is no proxy of ours just sent the header itself, rightly ignored.
    """
    peers = [sighting.peer for sighting in ForwardingPeers(db).recent()]
    if not peers:
        return []
    named = peers[:MAX_PEERS_NAMED]
    more = f" (and {len(peers) - len(named)} more)" if len(peers) > len(named) else ""
    listed = ", ".join(f'"{peer}"' for peer in named)
    return [
        f"requests with X-Forwarded-For came from {', '.join(named)}{more}, which "
        "KCPR_TRUSTED_PROXIES does not list: the header was ignored, so every visitor behind "
        "such a proxy shares one rate limit. If it is your reverse proxy, add it: "
        f"KCPR_TRUSTED_PROXIES='[{listed}]' (if not, a client sent the header itself: "
        "nothing to do)"
    ]


def check_report(settings: Settings) -> list[tuple[str, str]]:
    """Every check's outcome as (``ok``, ``warning`` or ``problem``, its line), in order.

    For `check` on the host and the console's settings page alike.
    """
    report: list[tuple[str, str]] = []
    problems: list[str] = []
    warnings: list[str] = []
    try:
        db = open_database(settings.database_url)
        report.append(("ok", f"database {settings.database_url.split('://')[0]}"))
        try:
            warnings += forwarding_warnings(db)
        finally:
            db.dispose()
    except PwresetError as exc:
        problems.append(str(exc))
    for name, check in (
        ("Keycloak", check_keycloak),
        ("SMTP", check_smtp),
        ("templates", check_templates),
        ("CAPTCHA", check_captcha),
        ("rate-limit store (Redis)", check_limits_store),
    ):
        if check is check_captcha and settings.captcha.provider == "none":
            continue  # off: nothing to check, nothing to say
        if check is check_limits_store and settings.limits.storage_uri == "memory://":
            continue
        found = check(settings)
        problems.extend(found)
        if not found:
            report.append(("ok", name))
    report += [("warning", line) for line in warnings + alignment_warnings(settings)]
    return report + [("problem", line) for line in problems]


def run_check() -> int:
    settings = load_settings()  # raises ConfigError: reported by the CLI as one block
    report = check_report(settings)
    for status, line in report:
        print(f"{status}: {line}")
    return 1 if any(status == "problem" for status, _ in report) else 0
