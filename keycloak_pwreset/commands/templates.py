"""`templates preview`, `templates check` and `send-test-email`."""

from __future__ import annotations

from pathlib import Path

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.samples import SAMPLE_USER, sample_context
from keycloak_pwreset.operator.templates_check import template_problems
from keycloak_pwreset.services import build_services, template_dirs
from keycloak_pwreset.settings import Settings, load_settings, load_template_settings


def renderer_for(settings: Settings) -> EmailRenderer:
    return EmailRenderer(template_dirs(settings, "emails"))


def check_locale(settings: Settings, locale: str) -> str:
    if locale not in settings.locales:
        raise ConfigError(f"--locale {locale!r} is not one of KCPR_LOCALES ({settings.locales})")
    return locale


def run_preview(kind: str, locale: str, out: Path) -> int:
    settings = load_template_settings()
    renderer = renderer_for(settings)
    if kind not in renderer.kinds():
        raise ConfigError(f"--kind {kind!r}: no such email kind (have {renderer.kinds()})")
    context = sample_context(
        kind, public_url=settings.public_url, site_name=settings.named_site, locale=locale
    )
    rendered = renderer.render(kind, context, check_locale(settings, locale))
    out.mkdir(parents=True, exist_ok=True)
    html, text = out / f"{kind}.{locale}.html", out / f"{kind}.{locale}.txt"
    html.write_text(rendered.html, encoding="utf-8")
    text.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
    print(f"wrote {html} and {text}")
    return 0


def run_check_templates() -> int:
    settings = load_template_settings()
    problems = template_problems(settings, renderer_for(settings))
    for line in problems:
        print(f"problem: {line}")
    if not problems:
        kinds = len(renderer_for(settings).kinds())
        print(f"ok: {kinds} email kinds render in {len(settings.locales)} languages")
    return 1 if problems else 0


def run_send_test(to: str, kind: str, locale: str) -> int:
    """Send a real sample through the route (sender, SMTP profile) that kind and language use."""
    settings = load_settings()
    services = build_services(settings)
    locale = check_locale(settings, locale)
    route = services.mailer.routing.route(kind, locale)
    context = sample_context(
        kind, public_url=settings.public_url, site_name=settings.named_site, locale=locale
    )
    services.mailer.send(
        kind=kind, to=to, to_name=SAMPLE_USER.display_name, context=context, locale=locale
    )
    print(
        f"sent a sample {kind!r} email in {locale} to {to} from {route.sender.from_address} "
        f"(envelope {route.sender.envelope}) via SMTP profile {route.profile!r}"
    )
    services.close()
    return 0
