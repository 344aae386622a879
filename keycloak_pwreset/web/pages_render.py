"""Rendering the HTML pages from the theme's page templates, in the person's language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from keycloak_pwreset.captcha import Widget
from keycloak_pwreset.i18n import Languages, jinja_gettext, text_direction


class PageRenderer:
    def __init__(
        self,
        template_dirs: list[Path],
        *,
        public_url: str,
        site_name: Callable[[], str],
        languages: Languages,
        captcha: Widget | None = None,
    ) -> None:
        self.languages = languages
        self._site_name = site_name  # asked per page: it may change (site_name.py)
        self._env = Environment(
            loader=FileSystemLoader([str(d) for d in template_dirs]),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        # Paths in pages come from KCPR_PUBLIC_URL's path, so the service can
        # sit under a prefix behind a proxy; never from the request's Host.
        self._env.globals.update(
            base=urlsplit(public_url).path.rstrip("/"),
            languages=languages.names(),
            captcha=captcha,  # the request forms show it (themes/pages/_captcha.html)
        )

    def render(
        self, name: str, status_code: int = 200, *, locale: str = "", **context: Any
    ) -> HTMLResponse:
        locale = locale or self.languages.default
        html = self._env.get_template(name).render(
            context,
            lang=locale,
            dir=text_direction(locale),
            _=jinja_gettext(locale),
            site_name=self._site_name(),
        )
        return HTMLResponse(html, status_code=status_code, headers={"Content-Language": locale})
