"""Languages: which one a person gets, and the message catalogs for pages and emails.

Catalogs are gettext ``.po`` files in Babel's layout
(``keycloak_pwreset/locales/pt_BR/LC_MESSAGES/messages.po``),
compiled in memory at start-up (no build step, no binary files in the
repository). Language tags are BCP 47 with a hyphen (``pt-BR``); Babel's
underscore form is used only to talk to Babel.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
SOURCE_LOCALE = "en"  # msgids are English: English needs no catalog
SHIPPED_LOCALES = (
    "en",
    "de",
    "fr",
    "es",
    "nl",
    "it",
    "pt-BR",
    "pl",
    "ja",
    "zh-CN",
    "zh-TW",
    "ar",
)
# A language hint (Accept-Language, ui_locales, a cookie, a form field) is read only
# this far: every tag costs a Babel parse, and GETs have no rate limit, so a 15 kB
# header must cost what a normal one does. Browsers send a few tags in well under
# 100 bytes; what lies beyond is ignored.
MAX_HINT_CHARS = 256
MAX_HINT_TAGS = 8


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def fallback_chain(tag: str) -> list[str]:
    """``pt-BR`` → ``["pt-BR", "pt"]``: the tag, then ever shorter prefixes."""
    parts = tag.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


@lru_cache(maxsize=512)
def canonical(tag: str) -> str:
    """``pt_br`` → ``pt-BR``; '' for anything Babel does not know.

    Cached (bounded): the same few tags arrive with nearly every request.
    """
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return ""
    return str(locale).replace("_", "-")


@lru_cache(maxsize=64)
def text_direction(tag: str) -> str:
    try:
        order = Locale.parse(tag.replace("-", "_")).character_order
    except (ValueError, TypeError, UnknownLocaleError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def catalog_path(tag: str) -> Path:
    return LOCALES_DIR / tag.replace("-", "_") / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=64)
def translations(tag: str) -> NullTranslations:
    """The catalog for a tag, falling back along its chain; English needs none."""
    for candidate in fallback_chain(tag):
        po = catalog_path(candidate)
        if po.is_file():
            with po.open("rb") as source:
                catalog = read_po(source, locale=candidate.replace("-", "_"))
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return Translations(buffer)
    return NullTranslations()


def jinja_gettext(tag: str) -> Callable[..., str]:
    """A ``_()`` for templates: translate, escape the variables when autoescaping, format."""
    catalog = translations(tag)

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        text = catalog.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - catalog text is ours; variables get escaped
        # Format only when asked: messages may contain a literal "%".
        return text % variables if variables else text

    return gettext


class Languages:
    """The languages a site offers, and how a request or an account picks one."""

    def __init__(self, offered: Iterable[str], default: str) -> None:
        # Tags stay as the site wrote them (Keycloak says zh-CN, Babel zh-Hans-CN);
        # matching compares Babel's canonical forms.
        self.offered = list(offered)
        self._canonical = {canonical(tag).lower(): tag for tag in self.offered}
        self.default = self.match(default) or default

    def pick(self, *candidates: str | None) -> str:
        """The first candidate (a tag, or an Accept-Language header) the site offers."""
        for candidate in candidates:
            for tag in _tags(candidate):
                found = self.match(tag)
                if found:
                    return found
        return self.default

    def first_offered(self, hint: str | None) -> str:
        """The first offered language of a space-separated hint (``ui_locales``), or ''."""
        for tag in _bounded(hint).split()[:MAX_HINT_TAGS]:
            found = self.match(tag)
            if found:
                return found
        return ""

    def match(self, tag: str) -> str:
        """The offered language for a tag: exact, by its prefix, or by the language alone."""
        tag = canonical(tag)
        if not tag:
            return ""
        for candidate in fallback_chain(tag):
            if candidate.lower() in self._canonical:
                return self._canonical[candidate.lower()]
        parts = tag.lower().split("-")
        # The same script first: zh-HK (zh-Hant-HK) is Traditional Chinese like zh-TW,
        # never Simplified because zh-CN happens to be listed first.
        if len(parts) > 1 and len(parts[1]) == 4:
            script = f"{parts[0]}-{parts[1]}"
            same = next((t for c, t in self._canonical.items() if c.startswith(script)), "")
            if same:
                return same
        return next((t for c, t in self._canonical.items() if c.split("-")[0] == parts[0]), "")

    def names(self) -> list[tuple[str, str]]:
        """(tag, the language's own name) for the language switcher."""
        return [(tag, _own_name(tag)) for tag in self.offered]


def _bounded(hint: str | None) -> str:
    """The part of a hint that is read: its first MAX_HINT_CHARS, without a cut-off last word."""
    if not hint or len(hint) <= MAX_HINT_CHARS:
        return hint or ""
    kept = hint[:MAX_HINT_CHARS]
    if hint[MAX_HINT_CHARS] not in ", \t":  # the cut fell inside a tag: drop its start
        kept = kept[: max(kept.rfind(","), kept.rfind(" "), 0)]
    return kept


def _tags(candidate: str | None) -> list[str]:
    """Tags from a single tag, a space-separated ``ui_locales`` or an Accept-Language value.

    At most MAX_HINT_TAGS tags from the first MAX_HINT_CHARS characters: the rest is ignored.
    """
    candidate = _bounded(candidate)
    if not candidate:
        return []
    # Accept-Language separates with commas ("de; q=0.9, en"); ui_locales with spaces.
    parts = candidate.split(",") if "," in candidate or ";" in candidate else candidate.split()
    weighted = []
    for index, part in enumerate(parts[:MAX_HINT_TAGS]):
        tag, _, params = part.partition(";")
        tag, params = tag.strip(), params.replace(" ", "")
        quality = 1.0
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def _own_name(tag: str) -> str:
    try:
        return str(Locale.parse(tag.replace("-", "_")).display_name)
    except (ValueError, TypeError, UnknownLocaleError):
        return tag
