"""Rendering an email kind from its template folder, in a language.

Each kind has a folder under ``emails/<kind>/`` with ``subject.txt``,
``body.txt`` and ``body.html``. A language may have its own files in
``emails/<kind>/<tag>/``; otherwise the neutral files are used with the
language's message catalog. Lookup for ``pt-BR``: ``<kind>/pt-BR/``,
``<kind>/pt/``, then ``<kind>/``; a site's templates directory is searched
before the shipped one at every step, so a site overrides file by file.

HTML is autoescaped; the text body is not (it is never interpreted as
markup), and the subject is folded to one line so that no input can start a
new header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from keycloak_pwreset.i18n import fallback_chain, jinja_gettext, text_direction

PARTS = ("subject.txt", "body.txt", "body.html")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer:
    def __init__(self, template_dirs: list[Path]) -> None:
        self.template_dirs = template_dirs
        self._env = Environment(
            loader=FileSystemLoader([str(d) for d in template_dirs]),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,  # a typo in a template fails loudly, not as blank text
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )

    def candidates(self, kind: str, part: str, locale: str) -> list[str]:
        tags = fallback_chain(locale) if locale else []
        return [f"{kind}/{tag}/{part}" for tag in tags] + [f"{kind}/{part}"]

    def render(self, kind: str, context: dict[str, Any], locale: str = "") -> RenderedEmail:
        tag = locale or "en"
        values = {**context, "_": jinja_gettext(tag), "lang": tag, "dir": text_direction(tag)}
        subject, text, html = (
            self._env.select_template(self.candidates(kind, part, locale)).render(values)
            for part in PARTS
        )
        return RenderedEmail(subject=one_line(subject), text=text, html=html)

    def kinds(self) -> list[str]:
        """Every email kind any template directory defines."""
        found = {
            p.name
            for d in self.template_dirs
            if d.is_dir()
            for p in d.iterdir()
            if p.is_dir() and (p / "subject.txt").exists()
        }
        return sorted(found)


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, tabs) so the text is safe as a header value."""
    return " ".join(text.replace("\0", " ").split())
