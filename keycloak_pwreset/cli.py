"""The `keycloak-pwreset` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from keycloak_pwreset import __version__
from keycloak_pwreset.errors import PwresetError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keycloak-pwreset",
        description="Self-service password reset and sign-up for a Keycloak realm.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web service (and the outbox worker)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")

    commands.add_parser("worker", help="run only the outbox worker (sends the emails)")
    commands.add_parser("check", help="check settings, Keycloak access and SMTP login")

    demo = commands.add_parser(
        "demo", help="start a real Keycloak, a mail sink and the service, all on this machine"
    )
    demo.add_argument("--port", type=int, default=8000, help="port for the service")
    demo.add_argument("--keycloak-port", type=int, default=8080, help="port for Keycloak")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Libraries' chatter (every migration step, every SMTP connection of the
    # demo's mail sink) would drown the lines a person needs to read.
    for noisy in ("alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            from keycloak_pwreset.commands.serve import run_serve

            return run_serve(args.host, args.port)
        if args.command == "worker":
            from keycloak_pwreset.commands.serve import run_worker

            return run_worker()
        if args.command == "check":
            from keycloak_pwreset.commands.check import run_check

            return run_check()
        if args.command == "demo":
            from keycloak_pwreset.commands.demo import run_demo

            return run_demo(port=args.port, keycloak_port=args.keycloak_port)
    except PwresetError as exc:
        # Expected problems (bad settings, unreachable servers) are one line,
        # never a traceback.
        print(f"keycloak-pwreset: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2
