"""What every console page shares: who is signed in, the look, and how an action runs.

Server-rendered from themes/console/ (a site's KCPR_TEMPLATES_DIR/console/ first),
no script: every action is a form POST carrying the session's CSRF token, answered
with a redirect back to its page and a one-line outcome (post/redirect/get). The
console is for administrators and is in English; the pages and emails it shows
are in every configured language.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from keycloak_pwreset.web.console_session import ConsoleSessions, ConsoleUser
from keycloak_pwreset.web.security import content_security_policy

SECTIONS = [
    ("/admin", "Open requests"),
    ("/admin/outbox", "Outbox"),
    ("/admin/invitations", "Invitations"),
    ("/admin/accounts", "Send a reset link"),
    ("/admin/emails", "Email previews"),
    ("/admin/settings", "Settings"),
]
MAX_NOTE = 200  # the outcome line carried in the redirect's query


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Outcome:
    """What an action came to: the line shown, the page to go back to, good news or not."""

    note: str
    back: str
    ok: bool = True


Form = dict[str, str | list[str]]
# An action: given who acts and the form, its outcome.
Action = Callable[[ConsoleUser, Form], Outcome]


class ConsoleViews:
    def __init__(
        self,
        template_dirs: list[Path],
        sessions: ConsoleSessions,
        public_url: str,
        site: Callable[[], str],
        keycloak_url: str,
    ) -> None:
        self.sessions = sessions
        # The pages' policy, and frames of our own: the email previews' HTML (console_tools.py).
        # Sign-out's form redirects to Keycloak's end-session endpoint.
        self.csp = content_security_policy([keycloak_url]) + "; frame-src 'self'"
        self.base = urlsplit(public_url).path.rstrip("/")
        self._env = Environment(
            loader=FileSystemLoader([str(d) for d in template_dirs]),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )
        self._site = site  # asked per page (site_name.py)
        self._env.globals.update(base=self.base, sections=SECTIONS, when=when)

    def render(
        self, template: str, status: int = 200, user: ConsoleUser | None = None, **context: Any
    ) -> HTMLResponse:
        csrf = self.sessions.form_token(user) if user else ""
        values = {"user": user, "csrf_token": csrf, "current": "", "done": "", "problem": ""}
        values["site_name"] = self._site()
        html = self._env.get_template(template).render({**values, **context})
        return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": self.csp})

    def message(self, status: int, heading: str, text: str, **context: Any) -> HTMLResponse:
        values = {"link": "", "link_text": "", "refresh": "", **context}
        return self.render("message.html", status, heading=heading, text=text, **values)

    async def page(
        self,
        request: Request,
        template: str,
        current: str,
        build: Callable[[], dict[str, Any]] | None = None,
    ) -> Response:
        """A signed-in page: its context built off the event loop (the store, Keycloak)."""
        user = self.sessions.user(request)
        if user is None:  # the console's front door, not an error
            return self.render("signed_out.html")
        context = await asyncio.to_thread(build) if build else {}
        notes = request.query_params
        return self.render(
            template,
            user=user,
            current=current,
            done=notes.get("done", "")[:MAX_NOTE],
            problem=notes.get("problem", "")[:MAX_NOTE],
            **context,
        )

    async def act(self, request: Request, action: Action) -> Response:
        """Run a form's action for the signed-in administrator, then go back with its outcome."""
        user = self.sessions.user(request)
        if user is None:
            return self.render("signed_out.html", 401)
        form = await self.checked(request, user)
        if form is None:
            return self.message(
                403,
                "Refused",
                "This form is out of date. Open the page again.",
                link="/admin",
                link_text="Back to the console",
            )
        outcome = await asyncio.to_thread(action, user, form)
        query = urlencode({"done" if outcome.ok else "problem": outcome.note[:MAX_NOTE]})
        return RedirectResponse(f"{self.base}{outcome.back}?{query}", 303)

    async def checked(self, request: Request, user: ConsoleUser) -> Form | None:
        """The form, if it carries this session's CSRF token; None otherwise."""
        form = await read_form(request)
        token = form.get("csrf_token")
        ours = self.sessions.form_is_ours(user, token if isinstance(token, str) else None)
        return form if ours else None


async def read_form(request: Request) -> Form:
    """The form's fields; a repeated one (the groups' checkboxes) as a list."""
    async with request.form() as form:
        fields: Form = {}
        for name in form:
            values = [v for v in form.getlist(name) if isinstance(v, str)]
            fields[name] = values if name == "groups" else (values[0] if values else "")
        return fields


def text(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


Handler = Callable[[Request], Awaitable[Response]]
