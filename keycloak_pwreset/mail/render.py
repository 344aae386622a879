"""Rendering an email kind from its template folder.

Each kind has a folder under ``themes/emails/<kind>/`` with ``subject.txt``,
``body.txt`` and ``body.html``. HTML is autoescaped; the text body is not
(it is never interpreted as markup), and the subject is folded to one line
so that no input can start a new header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer:
    def __init__(self, template_dirs: list[Path]) -> None:
        self._env = Environment(
            loader=FileSystemLoader([str(d) for d in template_dirs]),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,  # a typo in a template fails loudly, not as blank text
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        self._env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]

    def render(self, kind: str, context: dict[str, Any]) -> RenderedEmail:
        subject = self._env.get_template(f"{kind}/subject.txt").render(context)
        return RenderedEmail(
            subject=one_line(subject),
            text=self._env.get_template(f"{kind}/body.txt").render(context),
            html=self._env.get_template(f"{kind}/body.html").render(context),
        )


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, tabs) so the text is safe as a header value."""
    return " ".join(text.replace("\0", " ").split())
