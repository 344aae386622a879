"""A real SMTP server on loopback that keeps what it receives (aiosmtpd), for demo and tests."""

import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.mail_viewer import MailViewer
from keycloak_pwreset_demo.ports import LOOPBACK, ensure_port_free, free_port
from keycloak_pwreset_demo.received_mail import ReceivedMail
from keycloak_pwreset_demo.running import Running

__all__ = ["MailViewer", "ReceivedMail", "SmtpSink"]

_SUMMARY_LIMIT = 10


class SmtpSink(Running):
    """Accept every message on ``host:port`` and keep it in memory (and in ``mail_dir``).

    The port is fixed when the sink is made, so ``stop()`` then ``start()`` simulates an SMTP
    outage and recovery at the same address. ``require_auth=(user, password)`` makes the server
    demand AUTH PLAIN/LOGIN first, so tests can check that the service logs in.
    """

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        mail_dir: Path | None = None,
        require_auth: tuple[str, str] | None = None,
    ) -> None:
        self._host = host
        self._port = port if port else free_port()
        self._mail_dir = mail_dir
        self._require_auth = require_auth
        self._messages: list[ReceivedMail] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None
        self._file_number = _highest_file_number(mail_dir)

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def mail_dir(self) -> Path | None:
        """Where each message is also saved as ``NNNN.eml`` (None: memory only)."""
        return self._mail_dir

    @property
    def messages(self) -> list[ReceivedMail]:
        """A copy of the messages received so far, oldest first."""
        with self._changed:
            return list(self._messages)

    def start(self) -> None:
        """Listen (again) on the sink's port; DemoError if that port is taken."""
        if self._controller is not None:
            return
        ensure_port_free(self._port, "the SMTP sink")
        if self._mail_dir is not None:
            self._mail_dir.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
        if self._require_auth is not None:
            # Plain-text AUTH is fine here: the server only listens on loopback. aiosmtpd warns
            # about it on every connection; silence exactly that warning.
            warnings.filterwarnings(
                "ignore", "Requiring AUTH while not requiring TLS", UserWarning, "aiosmtpd"
            )
            options = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        # A fixed server_hostname: the default, socket.getfqdn(), can stall on DNS.
        controller = Controller(
            _Handler(self._receive),
            hostname=self._host,
            port=self._port,
            server_hostname="smtp-sink.localhost",
            **options,
        )
        try:
            controller.start()
        except Exception as exc:  # aiosmtpd raises several kinds; all mean "did not start"
            raise DemoError(
                f"The SMTP sink could not start on {self._host}:{self._port}: {exc}"
            ) from exc
        self._controller = controller

    def stop(self) -> None:
        """Stop listening; received messages are kept. Does nothing if not running."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def clear(self) -> None:
        """Forget the messages received so far (files in ``mail_dir`` stay)."""
        with self._changed:
            self._messages.clear()

    def count(self, to: str | None = None) -> int:
        """How many messages arrived (for envelope recipient ``to``, if given)."""
        return sum(1 for mail in self.messages if to is None or mail.is_for(to))

    def wait_for(
        self,
        predicate: Callable[[ReceivedMail], bool] | None = None,
        *,
        to: str | None = None,
        timeout: float = 30.0,
    ) -> ReceivedMail:
        """Return the first message (oldest first) matching ``to`` and ``predicate``.

        Already received messages count. Raises TimeoutError naming what did arrive.
        """

        def matches(mail: ReceivedMail) -> bool:
            return (to is None or mail.is_for(to)) and (predicate is None or predicate(mail))

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((mail for mail in self._messages if matches(mail)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(_timeout_message(to, predicate, timeout, self._messages))
                self._changed.wait(remaining)

    def _receive(self, mail_from: str, rcpt_tos: tuple[str, ...], raw: bytes) -> None:
        path = None
        if self._mail_dir is not None:
            with self._changed:
                self._file_number += 1
                number = self._file_number
            path = _write_atomically(self._mail_dir / f"{number:04d}.eml", raw)
        with self._changed:
            self._messages.append(ReceivedMail(mail_from, rcpt_tos, raw, path))
            self._changed.notify_all()

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._require_auth is None:
            return AuthResult(success=False, handled=False)
        user, password = self._require_auth
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)


class _Handler:
    """aiosmtpd handler: hands each message's envelope and bytes to the sink."""

    def __init__(self, receive: Callable[[str, tuple[str, ...], bytes], None]) -> None:
        self._receive = receive

    # The method name is aiosmtpd's hook.
    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode() if isinstance(content, str) else (content or b"")
        self._receive(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw)
        return "250 Message accepted for delivery"


def _highest_file_number(mail_dir: Path | None) -> int:
    """Continue numbering after files already in ``mail_dir``, never overwrite them."""
    if mail_dir is None or not mail_dir.is_dir():
        return 0
    numbers = [int(p.stem) for p in mail_dir.glob("*.eml") if p.stem.isdigit()]
    return max(numbers, default=0)


def _write_atomically(path: Path, data: bytes) -> Path:
    # Readers (people, the viewer, tests) never see a half-written file.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def _timeout_message(
    to: str | None,
    predicate: Callable[[ReceivedMail], bool] | None,
    timeout: float,
    received: list[ReceivedMail],
) -> str:
    wanted = (
        "a mail" + (f" to {to}" if to else "") + (" matching the predicate" if predicate else "")
    )
    arrived = "; ".join(
        f"to {', '.join(mail.rcpt_tos)}: {mail.subject!r}" for mail in received[-_SUMMARY_LIMIT:]
    )
    return f"No {wanted} within {timeout:g} s; received {len(received)}" + (
        f" (latest: {arrived})" if arrived else ""
    )
