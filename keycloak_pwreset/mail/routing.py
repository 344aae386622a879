"""Who sends each email: From, display name, Reply-To, envelope sender and SMTP profile.

Layered like the seeds' language-linked templates: the site-wide `[mail]`
settings, overridden per kind (`[mail.kinds.reset]`), overridden per language
of that kind (`[mail.kinds.reset.locales.de]`; `pt-BR` falls back to `pt`).
"""

from __future__ import annotations

from dataclasses import dataclass

from keycloak_pwreset.i18n import fallback_chain
from keycloak_pwreset.mail.message import Sender
from keycloak_pwreset.settings import MailSettings, SenderOverrides

FIELDS = ("from_address", "from_name", "reply_to", "envelope_from", "smtp_profile")


@dataclass(frozen=True)
class Route:
    sender: Sender
    profile: str


class MailRouting:
    def __init__(self, mail: MailSettings) -> None:
        self._mail = mail

    def route(self, kind: str, locale: str = "") -> Route:
        values: dict[str, str | None] = {name: getattr(self._mail, name) for name in FIELDS}
        kind_settings = self._mail.kinds.get(kind)
        if kind_settings is not None:
            _apply(values, kind_settings)
            by_tag = {tag.lower(): o for tag, o in kind_settings.locales.items()}
            for tag in reversed(fallback_chain(locale)) if locale else []:
                if tag.lower() in by_tag:  # "pt" first, then the more specific "pt-BR"
                    _apply(values, by_tag[tag.lower()])
        return Route(
            Sender(
                from_address=str(values["from_address"]),
                from_name=values["from_name"] or "",
                reply_to=values["reply_to"],
                envelope_from=values["envelope_from"],
            ),
            profile=values["smtp_profile"] or "default",
        )


def _apply(values: dict[str, str | None], overrides: SenderOverrides) -> None:
    for name in FIELDS:
        value = getattr(overrides, name)
        if value is not None:
            values[name] = value
