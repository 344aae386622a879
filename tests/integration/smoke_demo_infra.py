"""Smoke check of the demo infrastructure against a real Keycloak (not collected by pytest).

Run: ``python tests/integration/smoke_demo_infra.py``. Fetches and prepares Keycloak on first
use (cached), starts it on a free loopback port, creates a realm and a user, proves a login
works with the right password and fails with a wrong one, and prints the start-up time.
"""

import sys
import tempfile
import time
from pathlib import Path

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.keycloak_dist import ensure_distribution, find_java_home
from keycloak_pwreset_demo.keycloak_server import KeycloakServer
from keycloak_pwreset_demo.realm import create_realm, create_user, password_grant


def main() -> int:
    began = time.monotonic()
    home = ensure_distribution()
    java_home = find_java_home()
    with tempfile.TemporaryDirectory(prefix="kcpr-smoke-") as work:
        server = KeycloakServer(
            home, admin_password="Smoke-admin-1", java_home=java_home, work_dir=Path(work)
        )
        with server:
            info = create_realm(server.url, server.admin_user, server.admin_password, "smoke")
            create_user(
                server.url,
                server.admin_user,
                server.admin_password,
                "smoke",
                username="alice",
                email="alice@example.test",
                password="Correct-horse-9",
            )
            good = password_grant(
                server.url, "smoke", info.login_client_id, "alice", "Correct-horse-9"
            )
            bad = password_grant(server.url, "smoke", info.login_client_id, "alice", "Wrong-pass-9")
            print(f"right password accepted: {good}; wrong password accepted: {bad}")
            print(f"Keycloak start-up: {server.startup_seconds:.1f} s")
        print(f"total: {time.monotonic() - began:.1f} s")
        return 0 if good and not bad else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoError as error:
        sys.exit(f"error: {error}")
