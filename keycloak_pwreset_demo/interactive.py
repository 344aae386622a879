"""The interactive demo: everything on this machine, how to try it, then wait for Ctrl-C.

``keycloak-pwreset demo`` (``keycloak_pwreset/commands/demo.py``) loads this module only when
it runs, so the product's other commands never import the harness.
"""

from __future__ import annotations

import signal
import threading

from keycloak_pwreset_demo.keycloak_dist import default_cache_dir
from keycloak_pwreset_demo.smtp_sink import MailViewer, SmtpSink
from keycloak_pwreset_demo.stack import (
    DEMO_USER,
    KeycloakHandle,
    ServiceHandle,
    fresh_dir,
)

REALM = "demo"


def progress(line: str) -> None:
    print(f"  {line}", flush=True)


def run_interactive_demo(*, port: int, keycloak_port: int) -> int:
    work = fresh_dir(default_cache_dir() / "demo")
    print("keycloak-pwreset demo: starting everything on 127.0.0.1 …", flush=True)
    stack: list[KeycloakHandle | SmtpSink | MailViewer | ServiceHandle] = []
    try:
        keycloak = KeycloakHandle.start(
            work,
            port=keycloak_port,
            companion_url=f"http://127.0.0.1:{port}",
            progress=progress,
        )
        stack.append(keycloak)
        progress(f"Creating realm {REALM!r} with a demo user …")
        realm = keycloak.new_realm(REALM)
        keycloak.add_user(REALM, DEMO_USER)
        sink = SmtpSink(mail_dir=work / "mails")
        sink.start()
        stack.append(sink)
        viewer = MailViewer(sink)
        viewer.start()
        stack.append(viewer)
        service = ServiceHandle.start(realm, sink, work / "service", port=port)
        stack.append(service)
        print_welcome(keycloak, service, viewer, sink)
        wait_for_interrupt()
    finally:
        print("\nStopping …", flush=True)
        for part in reversed(stack):
            part.stop()
    return 0


def print_welcome(
    keycloak: KeycloakHandle, service: ServiceHandle, viewer: MailViewer, sink: SmtpSink
) -> None:
    kc = keycloak.server
    lines = [
        "",
        "Ready. Try it the way your users would:",
        f"  1. Open          {kc.url}/realms/{REALM}/account",
        "     Keycloak's sign-in page (with this product's login theme) appears.",
        "  2. Click 'Forgot password?' and enter "
        f"{DEMO_USER.email} (or the username {DEMO_USER.username}).",
        f"  3. Read the mail {viewer.url}   (also saved as files in {sink.mail_dir})",
        "  4. Follow the link and choose a new password (the realm wants 8+ characters,",
        "     upper and lower case and a digit; try a weak one first to see the rule).",
        "  5. You are back on Keycloak's sign-in page: sign in with the new password.",
        "",
        "  Or click 'Create your account' on the sign-in page: the account appears in",
        "  Keycloak only after the link in the email is followed and a password is set.",
        f"  The companion's own pages: {service.url}/forgot-password and {service.url}/signup",
        "",
        f"Keycloak admin console: {kc.url}/admin  (user {kc.admin_user}, "
        f"password {kc.admin_password})",
        f"Demo user: {DEMO_USER.username} / {DEMO_USER.password}",
        f"API schema: {service.url}/openapi.json",
        "Press Ctrl-C to stop everything.",
    ]
    print("\n".join(lines), flush=True)


def wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM.

    Both are handled explicitly: a shell may start us with SIGINT ignored.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
