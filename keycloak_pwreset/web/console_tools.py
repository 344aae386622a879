"""The console's email previews and its settings page.

Previews render the live templates (a site's KCPR_TEMPLATES_DIR first) with the
sample data of `templates check` (mail/samples.py), beside the sender and SMTP
profile each kind and language would use; "send a test" sends that sample through
that route. The settings page shows the effective configuration with every secret
replaced, and runs `check` when asked.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from keycloak_pwreset.audit import audit
from keycloak_pwreset.commands.check import check_report
from keycloak_pwreset.errors import PwresetError
from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.mail.samples import SAMPLE_USER, sample_context
from keycloak_pwreset.operator.templates_check import KINDS
from keycloak_pwreset.services import Services
from keycloak_pwreset.validation import normalize_email
from keycloak_pwreset.web.console_session import ConsoleUser
from keycloak_pwreset.web.console_views import ConsoleViews, Form, Outcome, text

# An email's HTML, shown in the console's sandboxed frame: its inline styles only.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
# user:password@ in any URL-like setting (a database or Redis URL).
CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def masked(value: object) -> str:
    if isinstance(value, SecretStr):
        return "(set, hidden)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(not set)"
    return CREDENTIALS.sub("***@", str(value))


def flattened(model: BaseModel, prefix: str = "KCPR_") -> list[tuple[str, str]]:
    """Every setting by its environment name, the value masked (secrets never shown)."""
    rows: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            rows += flattened(value, key + "__")
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, BaseModel) for v in value.values())
        ):
            for sub, item in value.items():
                rows += flattened(item, f"{key}__{str(sub).upper()}__")
        elif isinstance(value, list | tuple):
            rows.append((key, ", ".join(masked(v) for v in value) or "(none)"))
        else:
            rows.append((key, masked(value)))
    return rows


class Tools:
    def __init__(self, views: ConsoleViews, services: Services) -> None:
        self.views = views
        self.services = services
        settings = services.settings
        self.languages = Languages(settings.locales, settings.default_locale)

    def kinds(self) -> list[str]:
        return sorted(set(KINDS) | set(self.services.mailer.renderer.kinds()))

    def chosen(self, request: Request) -> tuple[str, str]:
        kinds, tags = self.kinds(), self.services.settings.locales
        kind = request.query_params.get("kind", "")
        locale = request.query_params.get("locale", "")
        return (kind if kind in kinds else kinds[0], locale if locale in tags else tags[0])

    def sample(self, kind: str, locale: str) -> dict[str, Any]:
        settings = self.services.settings
        return sample_context(
            kind,
            public_url=settings.public_url,
            site_name=self.services.site_name.now(),
            locale=locale,
        )

    async def emails(self, request: Request) -> Response:
        kind, locale = self.chosen(request)
        mailer = self.services.mailer

        def build() -> dict[str, Any]:
            context = {"kinds": self.kinds(), "languages": self.languages.names()}
            rendered = mailer.renderer.render(kind, self.sample(kind, locale), locale)
            route = mailer.routing.route(kind, locale)
            return {**context, "kind": kind, "locale": locale, "rendered": rendered, "route": route}

        return await self.views.page(request, "emails.html", "/admin/emails", build)

    async def email_html(self, request: Request) -> Response:
        if self.views.sessions.user(request) is None:
            return self.views.render("signed_out.html", 401)
        kind, locale = self.chosen(request)
        rendered = self.services.mailer.renderer.render(kind, self.sample(kind, locale), locale)
        headers = {"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"}
        return HTMLResponse(rendered.html, headers=headers)

    async def send_test(self, request: Request) -> Response:
        def act(user: ConsoleUser, form: Form) -> Outcome:
            kind, locale = text(form, "kind"), text(form, "locale")
            back = "/admin/emails"
            to = normalize_email(text(form, "to").strip())
            if kind not in self.kinds() or locale not in self.services.settings.locales or not to:
                return Outcome("Give a valid address, kind and language.", back, ok=False)
            back = f"/admin/emails?kind={kind}&locale={locale}"
            try:
                self.services.mailer.send(
                    kind=kind,
                    to=to,
                    to_name=SAMPLE_USER.display_name,
                    context=self.sample(kind, locale),
                    locale=locale,
                )
            except (PwresetError, OSError) as exc:
                return Outcome(f"Not sent: {exc}", back, ok=False)
            audit("test_email_sent", by=user.id, kind=kind, locale=locale)
            return Outcome(f"A sample {kind} email in {locale} was sent to {to}.", back)

        return await self.views.act(request, act)

    async def settings(self, request: Request) -> Response:
        run = request.query_params.get("check") == "1"
        settings = self.services.settings

        def build() -> dict[str, Any]:
            return {
                "settings": flattened(settings),
                "report": check_report(settings) if run else [],
            }

        return await self.views.page(request, "settings.html", "/admin/settings", build)


def add_routes(router: APIRouter, views: ConsoleViews, services: Services) -> None:
    tools = Tools(views, services)
    router.add_api_route("/admin/emails", tools.emails, methods=["GET"])
    router.add_api_route("/admin/emails/html", tools.email_html, methods=["GET"])
    router.add_api_route("/admin/emails/test", tools.send_test, methods=["POST"])
    router.add_api_route("/admin/settings", tools.settings, methods=["GET"])
