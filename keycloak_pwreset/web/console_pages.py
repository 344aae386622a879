"""The admin console at /admin: sign-in, open requests, the outbox, invitations, accounts.

Absent (404) until the console is configured (KCPR_CONSOLE__CLIENT_SECRET), like
the admin API. Every action is an audit event naming the administrator's Keycloak
user id; what it changes is done by the same store calls and desk actions as the
API's (store/open_requests.py, store/outbox_view.py, desk.py, flows/invite.py).
The email previews and the settings page are in web/console_tools.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset import desk
from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.invite import Invitation
from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.services import Services, template_dirs
from keycloak_pwreset.store.invitations import Invitations
from keycloak_pwreset.store.open_requests import OpenRequests
from keycloak_pwreset.store.outbox_view import STATES, OutboxView
from keycloak_pwreset.web import console_tools
from keycloak_pwreset.web.admin_auth import AdminTokens, NotAllowed, NotAuthenticated
from keycloak_pwreset.web.console_auth import ConsoleSignIn
from keycloak_pwreset.web.console_session import ConsoleSessions, ConsoleUser
from keycloak_pwreset.web.console_views import ConsoleViews, Form, Outcome, text
from keycloak_pwreset.web.cookies import Cookies

PURPOSES = ("reset", "signup", "invite")
KEYCLOAK_DOWN = "Keycloak could not be asked: nothing was done. Try again in a moment."
INVITE_REFUSALS = {
    "invalid_email": "That is not a valid email address.",
    "invalid_name": 'Names may not contain < > & " $ % ! # ? § ; * ~ / \\ | ^ = [ ] { } ( ).',
    "unknown_group": "One of the groups does not exist in the realm.",
    "invalid_validity": "An invitation is valid for 1 to 30 days.",
    "account_exists": "This address already has an account: send a reset link instead.",
}


@dataclass
class Console:
    services: Services
    views: ConsoleViews
    sign_in: ConsoleSignIn

    @property
    def sessions(self) -> ConsoleSessions:
        return self.views.sessions

    # -- signing in and out ------------------------------------------------------

    async def home(self, request: Request) -> Response:
        address = request.query_params.get("address", "").strip()[:320]
        purpose = request.query_params.get("purpose", "")
        purpose = purpose if purpose in PURPOSES else ""
        view = OpenRequests(self.services.db, self.services.tokens.clock)

        def build() -> dict[str, Any]:
            rows = view.live(purpose=purpose or None, address=address or None)
            return {"rows": rows, "address": address, "purpose": purpose}

        return await self.views.page(request, "requests.html", "/admin", build)

    async def login(self, request: Request) -> Response:
        return await self.sign_in.begin(request)

    async def callback(self, request: Request) -> Response:
        try:
            admin, id_token = await self.sign_in.finish(request)
        except NotAllowed as exc:
            audit("console_refused", reason=str(exc))
            return self._login_done(
                self.views.message(
                    403,
                    "No access",
                    "Your account does not have the console's role.",
                ),
            )
        except NotAuthenticated:
            return self._login_done(
                self.views.message(
                    400,
                    "Sign-in failed",
                    "The sign-in did not complete.",
                    link="/admin/login",
                    link_text="Sign in again",
                )
            )
        except (KeycloakUnavailable, KeycloakRejected):
            return self._login_done(self.views.message(503, "Unavailable", KEYCLOAK_DOWN))
        # A page that moves on by itself, not a redirect: the session cookie is
        # SameSite=Strict, and a browser would not send it on a redirect chain that
        # began on Keycloak's site.
        page = self.views.message(
            200,
            "Signed in",
            f"Welcome, {admin.username}.",
            link="/admin",
            link_text="Open the console",
            refresh="/admin",
        )
        self.sessions.start(page, admin.id, admin.username, id_token)
        audit("console_signed_in", by=admin.id)
        return self._login_done(page)

    def _login_done(self, response: Response) -> Response:
        self.sessions.forget_login_state(response)
        return response

    async def logout(self, request: Request) -> Response:
        user = self.sessions.user(request)
        form = None if user is None else await self.views.checked(request, user)
        if user is None or form is None:
            return RedirectResponse(f"{self.views.base}/admin", 303)
        target = await self.sign_in.end_session_url(user.id_token)
        response = RedirectResponse(target, 303)
        self.sessions.end(response)
        audit("console_signed_out", by=user.id)
        return response

    # -- the outbox ----------------------------------------------------------------

    async def outbox(self, request: Request) -> Response:
        state = request.query_params.get("state", "")
        state = state if state in STATES else ""
        view = OutboxView(self.services.db, self.services.tokens.clock)

        def build() -> dict[str, Any]:
            return {"rows": view.jobs(state or None), "state": state, "states": STATES}  # type: ignore[arg-type]

        return await self.views.page(request, "outbox.html", "/admin/outbox", build)

    def store_action(self, what: str, event: str, back: str, change: Any) -> Any:
        """An action on one stored item, named by the path's id: revoke, retry, discard."""

        async def handler(request: Request) -> Response:
            item = int(request.path_params["item"])

            def act(user: ConsoleUser, _form: Form) -> Outcome:
                if not change(item):
                    return Outcome(f"{what} {item} was not in a state to change.", back, ok=False)
                audit(event, by=user.id, item=str(item))
                if event == "job_retry_now":
                    self.services.waker.wake()
                return Outcome(f"{what} {item}: done.", back)

            return await self.views.act(request, act)

        return handler

    # -- invitations and accounts ----------------------------------------------------

    async def invitations(self, request: Request) -> Response:
        services = self.services
        view = Invitations(services.db, services.tokens.clock)
        languages = Languages(services.settings.locales, services.settings.default_locale)

        def build() -> dict[str, Any]:
            try:
                groups = services.gateway.group_paths()
            except (KeycloakUnavailable, KeycloakRejected):
                groups = []
            return {
                "rows": view.sent(),
                "groups": groups,
                "default_groups": services.settings.signup_default_groups,
                "languages": languages.names(),
            }

        return await self.views.page(request, "invitations.html", "/admin/invitations", build)

    async def invite(self, request: Request) -> Response:
        def act(user: ConsoleUser, form: Form) -> Outcome:
            groups = form.get("groups", [])
            days = text(form, "valid_days") or "7"
            invitation = Invitation(
                email=text(form, "email"),
                first_name=text(form, "first_name"),
                last_name=text(form, "last_name"),
                groups=tuple(groups) if isinstance(groups, list) else (),
                locale=text(form, "locale"),
                valid_days=int(days) if days.isdigit() else 0,
            )
            return self._invited(invitation, user)

        return await self.views.act(request, act)

    async def invite_again(self, request: Request) -> Response:
        """A new invitation like an earlier one (which it supersedes if still pending)."""
        item = int(request.path_params["item"])
        view = Invitations(self.services.db, self.services.tokens.clock)

        def act(user: ConsoleUser, _form: Form) -> Outcome:
            sent = view.one(item)
            if sent is None or sent.state == "accepted":
                return Outcome("That invitation cannot be sent again.", "/admin/invitations", False)
            again = Invitation(
                sent.email, sent.first_name, sent.last_name, sent.groups, sent.locale
            )
            return self._invited(again, user)

        return await self.views.act(request, act)

    def _invited(self, invitation: Invitation, user: ConsoleUser) -> Outcome:
        try:
            refusal = self.services.invite.invite(invitation, by=user.id)
        except (KeycloakUnavailable, KeycloakRejected):
            return Outcome(KEYCLOAK_DOWN, "/admin/invitations", ok=False)
        if refusal is not None:
            return Outcome(INVITE_REFUSALS[refusal.value], "/admin/invitations", ok=False)
        note = f"Invitation for {invitation.email.strip()} queued: it leaves in a moment."
        return Outcome(note, "/admin/invitations")

    async def accounts(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[:320]

        def build() -> dict[str, Any]:
            account = self.services.gateway.find_user(query) if query else None
            return {"q": query, "account": account}

        try:
            return await self.views.page(request, "accounts.html", "/admin/accounts", build)
        except (KeycloakUnavailable, KeycloakRejected):
            return self.views.message(503, "Unavailable", KEYCLOAK_DOWN)

    async def reset_link(self, request: Request) -> Response:
        def act(user: ConsoleUser, form: Form) -> Outcome:
            account_id = text(form, "account_id")[:64]
            try:
                refusal = desk.send_reset_link(self.services, account_id, by=user.id)
            except (KeycloakUnavailable, KeycloakRejected):
                return Outcome(KEYCLOAK_DOWN, "/admin/accounts", ok=False)
            if refusal is not None:
                return Outcome(f"No link sent: {refusal.value}.", "/admin/accounts", ok=False)
            return Outcome("A new reset link is on its way to the account's email.", "/admin")

        return await self.views.act(request, act)


def build_console(services: Services, cookies: Cookies) -> Console:
    settings = services.settings
    sessions = ConsoleSessions(settings.secret_key.get_secret_value(), cookies)
    views = ConsoleViews(
        template_dirs(settings, "console"),
        sessions,
        settings.public_url,
        services.site_name.now,
        settings.keycloak_url,
    )
    tokens = AdminTokens(services.gateway.signing_keys, settings.console)
    return Console(services, views, ConsoleSignIn(settings, tokens, sessions))


def build_router(services: Services, cookies: Cookies) -> APIRouter:
    """The console's routes; included only when it is configured, with the admin API."""
    console = build_console(services, cookies)
    clock = services.tokens.clock
    requests = OpenRequests(services.db, clock)
    jobs = OutboxView(services.db, clock)
    router = APIRouter(include_in_schema=False)
    get, post = router.add_api_route, router.add_api_route
    get("/admin", console.home, methods=["GET"])
    get("/admin/login", console.login, methods=["GET"])
    get("/admin/callback", console.callback, methods=["GET"])
    post("/admin/logout", console.logout, methods=["POST"])
    revoke = console.store_action("Link", "link_revoked", "/admin", requests.revoke)
    post("/admin/requests/{item:int}/revoke", revoke, methods=["POST"])
    get("/admin/outbox", console.outbox, methods=["GET"])
    retry = console.store_action("Job", "job_retry_now", "/admin/outbox", jobs.retry_now)
    post("/admin/outbox/{item:int}/retry", retry, methods=["POST"])
    discard = console.store_action("Job", "job_discarded", "/admin/outbox", jobs.discard)
    post("/admin/outbox/{item:int}/discard", discard, methods=["POST"])
    get("/admin/invitations", console.invitations, methods=["GET"])
    post("/admin/invitations", console.invite, methods=["POST"])
    post("/admin/invitations/{item:int}/again", console.invite_again, methods=["POST"])
    get("/admin/accounts", console.accounts, methods=["GET"])
    post("/admin/accounts/reset-link", console.reset_link, methods=["POST"])
    console_tools.add_routes(router, console.views, services)
    return router
