"""Loopback port helpers."""

import socket

from keycloak_pwreset_demo.errors import DemoError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0). Another process could take it before the caller binds
    it; callers that start a server report that case clearly instead of retrying blindly.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_port_free(port: int, what: str) -> None:
    """Raise DemoError if ``port`` on 127.0.0.1 cannot be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR matches what servers set, so a port in TIME_WAIT after our own restart
        # does not count as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise DemoError(
                f"Port {port} on {LOOPBACK} is busy, so {what} cannot use it; "
                "choose another port or stop the program using it"
            ) from exc
