"""The optional CAPTCHA, checked the same way by the request forms and the JSON API."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from keycloak_pwreset.audit import audit
from keycloak_pwreset.captcha import CaptchaVerifier
from keycloak_pwreset.web.client import determined_address


async def passes_captcha(captcha: CaptchaVerifier | None, request: Request, response: str) -> bool:
    """True when no CAPTCHA is configured, or the provider accepts ``response``.

    Checked before the flow sees the request, so the verdict can never depend on
    an account; the provider's answer takes a network round trip: off the event loop.
    """
    if captcha is None:
        return True
    # The provider wants the address itself (remoteip), not our network key.
    client = determined_address(request)
    if await asyncio.to_thread(captcha.verify, response, client):
        return True
    audit("captcha_failed", client=client, path=request.url.path)
    return False
