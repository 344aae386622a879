"""Rendering the HTML pages from the theme's page templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse


class PageRenderer:
    def __init__(self, template_dirs: list[Path], *, public_url: str, site_name: str) -> None:
        self._env = Environment(
            loader=FileSystemLoader([str(d) for d in template_dirs]),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        self._env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        # Paths in pages come from KCPR_PUBLIC_URL's path, so the service can
        # sit under a prefix behind a proxy; never from the request's Host.
        self._env.globals.update(
            base=urlsplit(public_url).path.rstrip("/"),
            site_name=site_name,
            lang="en",
            dir="ltr",
        )

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(context)
        return HTMLResponse(html, status_code=status_code)
