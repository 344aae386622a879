"""Telling bots from people: the honeypot field and the optional CAPTCHA.

Checked before any flow sees a request, so the verdict can never depend on an
account. The forms and the JSON API ask the same questions here.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from keycloak_pwreset.audit import audit
from keycloak_pwreset.captcha import CaptchaVerifier
from keycloak_pwreset.web.client import determined_address

HONEYPOT = "website"  # a field people never see (themes/pages), so never fill in


async def passes_captcha(captcha: CaptchaVerifier | None, request: Request, response: str) -> bool:
    """True when no CAPTCHA is configured, or the provider accepts ``response``.

    The provider's answer takes a network round trip: off the event loop.
    """
    if captcha is None:
        return True
    # The provider wants the address itself (remoteip), not our network key.
    client = determined_address(request)
    if await asyncio.to_thread(captcha.verify, response, client):
        return True
    audit("captcha_failed", client=client, path=request.url.path)
    return False


class BotChecks:
    def __init__(self, captcha: CaptchaVerifier | None) -> None:
        self.captcha = captcha

    def trapped(self, request: Request, form: dict[str, str]) -> bool:
        """A bot filled the honeypot field: answer as usual, do nothing, note it."""
        if not form.get(HONEYPOT):
            return False
        audit("bot_trapped", client=determined_address(request), path=request.url.path)
        return True

    async def human(self, request: Request, form: dict[str, str]) -> bool:
        """The CAPTCHA, if the site has one, was solved (the widget's field in the form)."""
        field = self.captcha.field if self.captcha else ""
        return await passes_captcha(self.captcha, request, form.get(field, ""))
