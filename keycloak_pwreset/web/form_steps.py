"""The steps of every HTML form, written once; the pages supply only what differs.

A link request (forgot-password, sign-up): read the form and check its CSRF
token, the honeypot, the CAPTCHA; pick the languages; let the flow enqueue,
off the event loop; show the form again on a refusal; and wake the worker only
once the answer has left (web/after_answer.py). A link page (reset-password,
signup/complete): move the token out of the URL, check it, redeem it, and
answer every dead link with the one expired page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.audit import audit
from keycloak_pwreset.flows.links import Redeemed
from keycloak_pwreset.results import Result
from keycloak_pwreset.wake import Wakeable
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.bot_check import BotChecks
from keycloak_pwreset.web.client import determined_address, determined_client
from keycloak_pwreset.web.forms import Forms
from keycloak_pwreset.web.link_cookies import LinkCookies, LinkPage
from keycloak_pwreset.web.store_calls import StoreCalls

Pending = TypeVar("Pending")
Context = dict[str, object]


@dataclass(frozen=True)
class RequestPage:
    """A page that asks for a link."""

    template: str  # the form
    sent: str  # the page after an accepted request: the same for every account
    link: LinkPage  # the page its emails lead to
    audited_as: str | None = None  # the audit event of an accepted request


@dataclass(frozen=True)
class Submitted:
    """A form that passed the shared checks."""

    fields: dict[str, str]
    shown: str  # the language of the page
    chosen: str  # the language the person chose explicitly, or ''
    client: str  # the client's network (web/client.py)


def no_context(_: object) -> Context:
    return {}


class FormSteps:
    def __init__(
        self,
        forms: Forms,
        bots: BotChecks,
        links: LinkCookies,
        worker: Wakeable,
        base: str,
        store: StoreCalls,
    ) -> None:
        self.forms = forms
        self.store = store
        self.bots = bots
        self.links = links
        self.worker = worker
        self.base = base  # KCPR_PUBLIC_URL's path

    def ask_form(self, request: Request, page: RequestPage, **context: object) -> Response:
        response = self.forms.page(request, page.template, 200, **context)
        # Asking again abandons the link this browser may still hold.
        self.links.abandon(request, response, page.link)
        return response

    async def request_link(
        self,
        request: Request,
        page: RequestPage,
        ask: Callable[[Submitted], Result],
        shown_again: Callable[[dict[str, str]], Context] = no_context,
    ) -> Response:
        fields, valid = await self.forms.read(request)
        again = shown_again(fields)
        if not valid:
            return self.forms.again(request, page.template, None, **again)
        if self.bots.trapped(request, fields):
            return self.forms.render(request, page.sent)  # as if we did
        if not await self.bots.human(request, fields):
            return self.forms.again(request, page.template, Result.CAPTCHA_FAILED, **again)
        shown, chosen = self.forms.languages.of(request, fields)
        submitted = Submitted(fields, shown, chosen, determined_client(request))
        # Every form's flow call only writes an outbox row (a sign-up page has read
        # the realm's rules before): web/store_calls.py.
        result = await self.store.run(partial(ask, submitted), store_only=True)
        if result is not Result.SUCCESS:
            return self.forms.again(request, page.template, result, **again)
        if page.audited_as:
            audit(page.audited_as, client=determined_address(request))
        return wake_worker_after(self.forms.render(request, page.sent), self.worker)

    def token_out_of_url(self, request: Request, page: LinkPage, token: str) -> Response:
        """Put a link's token into an HttpOnly cookie and redirect to the clean URL.

        The address bar, history and any referrer then no longer carry it. The
        token is checked on the clean URL; this GET never uses it up.
        """
        response = RedirectResponse(f"{self.base}{page.path}", status_code=303)
        # A link from a language switcher or a Keycloak page keeps its language.
        self.forms.languages.keep(response, self.forms.languages.of(request)[1])
        self.links.hold(response, page, token)
        return response

    async def pending(
        self, request: Request, page: LinkPage, check: Callable[[str], Pending | None]
    ) -> Pending | None:
        """What the link in this browser's cookie stands for, if it is alive."""
        token = self.links.token(request, page)
        # Every check is a database query: off the event loop.
        return await asyncio.to_thread(check, token) if token else None

    async def link_form(
        self,
        request: Request,
        page: LinkPage,
        token: str | None,
        check: Callable[[str], Pending | None],
        context: Callable[[Pending], Context] = no_context,
    ) -> Response:
        if token is not None:
            return self.token_out_of_url(request, page, token)
        pending = await self.pending(request, page, check)
        if pending is None:
            return self.forms.expired(request, page.restart)
        return self.forms.page(request, page.template, 200, **context(pending))

    async def redeem_link(
        self,
        request: Request,
        page: LinkPage,
        act: Callable[[str, dict[str, str]], Redeemed],
        answer: Callable[[Request, Redeemed], Response | None],
        shown_again: Callable[[Result | None, str], Context] = lambda _r, _p: {},
    ) -> Response:
        """Redeem the link with the form; ``answer`` gives the page's own answer to a final
        result (success, or a refusal that ends the link), None to show the form again.
        ``shown_again`` gets the result and the password refused (to mark the rules it
        breaks; never to show it)."""
        fields, valid = await self.forms.read(request)
        if not valid:
            extra = await asyncio.to_thread(shown_again, None, "")
            return self.forms.again(request, page.template, None, **extra)
        redeemed = await asyncio.to_thread(act, self.links.token(request, page), fields)
        if redeemed.result is Result.LINK_EXPIRED:
            return self.forms.expired(request, page.restart)
        response = answer(request, redeemed)
        if response is None:
            result = redeemed.result
            # Off the event loop: marking the broken rules may ask Keycloak for its policy.
            extra = await asyncio.to_thread(shown_again, result, fields.get("password", ""))
            return self.forms.again(request, page.template, result, **extra)
        self.links.forget(response, page)
        return response
