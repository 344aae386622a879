"""Proving the templates and catalogs work before anyone is sent a broken email.

Run by `keycloak-pwreset templates check`, by `check`, and at start-up of
`serve` and `worker`: a site's broken template stops start-up with a clear
line instead of failing a person's request later.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from jinja2 import TemplateError

from keycloak_pwreset.i18n import LOCALES_DIR, SOURCE_LOCALE, catalog_path, fallback_chain
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.samples import sample_context
from keycloak_pwreset.settings import Settings

KINDS = ("reset", "password-changed", "signup", "account-exists", "no-account", "invite")


def catalog_ids(path: Path) -> dict[str, str]:
    with path.open("rb") as source:
        catalog = read_po(source)
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str)}


def missing_translations(locale: str) -> list[str]:
    """msgids of the shipped template catalog that ``locale`` does not translate."""
    if locale.split("-")[0] == SOURCE_LOCALE:
        return []
    wanted = catalog_ids(LOCALES_DIR / "messages.pot")
    for tag in fallback_chain(locale):
        if catalog_path(tag).is_file():
            have = catalog_ids(catalog_path(tag))
            return sorted(m for m in wanted if not have.get(m))
    return sorted(wanted)


def template_problems(settings: Settings, renderer: EmailRenderer) -> list[str]:
    """One line per kind/language that fails to render or lacks translations."""
    problems = []
    kinds = sorted(set(KINDS) | set(renderer.kinds()))
    for locale in settings.locales:
        missing = missing_translations(locale)
        if missing:
            problems.append(
                f"language {locale}: {len(missing)} untranslated messages, e.g. {missing[0]!r}"
            )
        for kind in kinds:
            context = sample_context(
                kind, public_url=settings.public_url, site_name=settings.named_site, locale=locale
            )
            try:
                renderer.render(kind, context, locale)
            except (TemplateError, KeyError, ValueError, TypeError) as exc:
                problems.append(f"email {kind!r} in {locale}: {type(exc).__name__}: {exc}")
    return problems
