"""The `keycloak-pwreset` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keycloak_pwreset import __version__
from keycloak_pwreset.audit import configure_logging
from keycloak_pwreset.errors import PwresetError

if TYPE_CHECKING:  # subscriptable for the type checker only
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keycloak-pwreset",
        description="Self-service password reset and sign-up for a Keycloak realm.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_service(commands)
    _add_setup_realm(commands)
    _add_templates(commands)
    _add_theme(commands)
    _add_support(commands)
    _add_demo(commands)
    return parser


def _add_service(commands: Subcommands) -> None:
    serve = commands.add_parser("serve", help="run the web service (and the outbox worker)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="web processes (one per core; limits are counted per process)",
    )
    worker = commands.add_parser("worker", help="run only the outbox worker (sends the emails)")
    worker.add_argument(
        "--wake-socket",
        type=Path,
        metavar="PATH",
        help="also start at once on a datagram at this Unix socket (as serve's worker does)",
    )
    worker.add_argument(
        "--nice", type=int, default=0, metavar="N", help="lower the worker's CPU priority by N"
    )
    worker.add_argument(
        "--exit-with-stdin", action="store_true", help="stop when standard input closes"
    )
    worker.add_argument(
        "--no-metrics-port",
        action="store_true",
        help="no metrics listener of its own, even with KCPR_METRICS_PORT (serve's worker)",
    )
    commands.add_parser("check", help="check settings, Keycloak access and SMTP login")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _add_setup_realm(commands: Subcommands) -> None:
    setup = commands.add_parser(
        "setup-realm",
        help="prepare a realm for the companion (admin credentials from KCPR_ADMIN_*)",
    )
    setup.add_argument("--keycloak-url", metavar="URL", help="default: KCPR_KEYCLOAK_URL")
    setup.add_argument("--realm", help="default: KCPR_REALM")
    setup.add_argument("--client-id", default="keycloak-pwreset", metavar="ID")
    setup.add_argument(
        "--theme",
        default="keycloak-pwreset",
        metavar="NAME",
        help='login theme to set (default: %(default)s; "" leaves it untouched)',
    )
    setup.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    setup.add_argument(
        "--show-secret", action="store_true", help="print the client secrets even if not new"
    )
    setup.add_argument(
        "--public-url",
        metavar="URL",
        help="the companion's KCPR_PUBLIC_URL: also set up the admin console's client and role",
    )


def _add_templates(commands: Subcommands) -> None:
    test_mail = commands.add_parser(
        "send-test-email", help="send a real sample email through its configured route"
    )
    test_mail.add_argument("--to", required=True, metavar="ADDRESS")
    test_mail.add_argument("--kind", default="reset")
    test_mail.add_argument("--locale", default="en")
    templates = commands.add_parser("templates", help="preview or check the email templates")
    template_commands = templates.add_subparsers(dest="templates_command", required=True)
    preview = template_commands.add_parser("preview", help="write one kind rendered to files")
    preview.add_argument("--kind", required=True)
    preview.add_argument("--locale", default="en")
    preview.add_argument("--out", type=Path, default=Path("preview"), help="output folder")
    template_commands.add_parser(
        "check", help="render every kind in every language; fail on errors or gaps"
    )


def _add_theme(commands: Subcommands) -> None:
    theme = commands.add_parser("theme", help="the Keycloak login theme")
    theme_commands = theme.add_subparsers(dest="theme_command", required=True)
    build = theme_commands.add_parser("build", help="write the login theme JAR")
    build.add_argument("--out", type=Path, default=Path("."), help="output folder")
    build.add_argument(
        "--public-url", help="the companion's URL (default: Keycloak's KCPR_PUBLIC_URL at run time)"
    )
    build.add_argument("--no-signup", action="store_true", help="hide the Register link")


def _add_support(commands: Subcommands) -> None:
    """The support desk's view of the store: open requests and the outbox (commands/support.py)."""
    requests = commands.add_parser("requests", help="list or revoke the live emailed links")
    request_commands = requests.add_subparsers(dest="requests_command", required=True)
    listing = request_commands.add_parser("list", help="live links, newest first (no tokens)")
    listing.add_argument(
        "--purpose", choices=["reset", "signup", "invite"], help="only this kind of link"
    )
    listing.add_argument("--address", metavar="EMAIL", help="only links for this address")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    revoke = request_commands.add_parser("revoke", help="kill one live link at once")
    revoke.add_argument("id", type=int)
    outbox = commands.add_parser("outbox", help="list, retry or discard the worker's jobs")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    jobs = outbox_commands.add_parser("list", help="the jobs, oldest first")
    jobs.add_argument("--state", choices=["due", "running", "later", "failed"])
    jobs.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    for name, text in (
        ("retry", "make a job due now (attempts start again)"),
        ("discard", "delete a job"),
    ):
        outbox_commands.add_parser(name, help=text).add_argument("id", type=int)
    invite = commands.add_parser("invite", help="email someone an invitation to open an account")
    invite.add_argument("email")
    invite.add_argument(
        "--group",
        action="append",
        metavar="PATH",
        help="a group the account joins (repeatable; default KCPR_SIGNUP_DEFAULT_GROUPS)",
    )
    invite.add_argument("--locale", metavar="TAG", default="", help="the email's language")
    invite.add_argument("--first-name", default="")
    invite.add_argument("--last-name", default="")
    invite.add_argument("--valid-days", type=int, default=7, help="1 to 30 (default 7)")


def _add_demo(commands: Subcommands) -> None:
    demo = commands.add_parser(
        "demo", help="start a real Keycloak, a mail sink and the service, all on this machine"
    )
    demo.add_argument("--port", type=int, default=8000, help="port for the service")
    demo.add_argument("--keycloak-port", type=int, default=8080, help="port for Keycloak")


# Each command's module is imported only when it runs: `serve` never loads the
# demo stack, and `--help` stays fast.


def _serve(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.serve import run_serve

    return run_serve(args.host, args.port, args.workers)


def _worker(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.serve import run_worker

    return run_worker(
        args.wake_socket, args.nice, args.exit_with_stdin, serve_metrics=not args.no_metrics_port
    )


def _check(_args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.check import run_check

    return run_check()


def _setup_realm(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.setup_realm import run_setup_realm

    return run_setup_realm(
        keycloak_url=args.keycloak_url,
        realm=args.realm,
        client_id=args.client_id,
        theme=args.theme,
        dry_run=args.dry_run,
        show_secret=args.show_secret,
        public_url=args.public_url,
    )


def _send_test_email(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.templates import run_send_test

    return run_send_test(args.to, args.kind, args.locale)


def _templates(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands import templates

    if args.templates_command == "preview":
        return templates.run_preview(args.kind, args.locale, args.out)
    return templates.run_check_templates()


def _theme(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.theme import run_theme_build

    return run_theme_build(args.out, args.public_url, not args.no_signup)


def _requests(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands import support

    if args.requests_command == "list":
        return support.run_requests_list(args.purpose, args.address, args.json)
    return support.run_requests_revoke(args.id)


def _outbox(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands import support

    if args.outbox_command == "list":
        return support.run_outbox_list(args.state, args.json)
    if args.outbox_command == "retry":
        return support.run_outbox_retry(args.id)
    return support.run_outbox_discard(args.id)


def _invite(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.invite import run_invite
    from keycloak_pwreset.flows.invite import Invitation

    groups = tuple(args.group) if args.group else None
    return run_invite(
        Invitation(
            args.email, args.first_name, args.last_name, groups, args.locale, args.valid_days
        )
    )


def _demo(args: argparse.Namespace) -> int:
    from keycloak_pwreset.commands.demo import run_demo

    return run_demo(port=args.port, keycloak_port=args.keycloak_port)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _serve,
    "worker": _worker,
    "check": _check,
    "setup-realm": _setup_realm,
    "send-test-email": _send_test_email,
    "templates": _templates,
    "theme": _theme,
    "requests": _requests,
    "outbox": _outbox,
    "invite": _invite,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        return COMMANDS[args.command](args)
    except PwresetError as exc:
        # Expected problems (bad settings, unreachable servers) are one line,
        # never a traceback.
        print(f"keycloak-pwreset: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
