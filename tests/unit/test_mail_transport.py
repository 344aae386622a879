from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from keycloak_pwreset.errors import MailDeliveryError, MailRejected
from keycloak_pwreset.mail.message import Sender, build_message
from keycloak_pwreset.mail.render import RenderedEmail
from keycloak_pwreset.mail.transport import SmtpTransport
from keycloak_pwreset.settings import SmtpSecurity, SmtpSettings
from tests.unit.fakes import MemoryTransport

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

HOST = "127.0.0.1"
SENDER = Sender("help@example.org", "Example Help", envelope_from="bounces@example.org")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: bytes | None


@dataclass
class RecordingHandler:
    """A tiny aiosmtpd handler: keeps what it receives, can refuse a step with a given reply."""

    received: list[Received] = field(default_factory=list)
    refuse_mail: str = ""
    refuse_rcpt: str = ""
    refuse_data: str = ""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
        )
        return "250 Message accepted"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"pa55word",
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int

    def settings(self, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {"host": HOST, "port": self.port, "timeout_seconds": 5}
        values.update(overrides)
        return SmtpSettings(**values)


def start_server(**smtp_parameters: Any) -> tuple[Controller, SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, **smtp_parameters)
    controller.start()
    return controller, SmtpServer(handler, port)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    controller, server = start_server()
    yield server
    controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[SmtpServer]:
    controller, server = start_server(
        authenticator=authenticator, auth_require_tls=False, auth_required=True
    )
    yield server
    controller.stop()


def a_message(to: str = "zoe@example.net") -> Any:
    rendered = RenderedEmail(subject="Reset", text="Hello Zoë\n", html="<p>Hello Zoë</p>")
    return build_message(rendered, to=to, to_name="Zoë Tester", sender=SENDER)


def test_plain_delivery_uses_the_envelope_sender(smtp: SmtpServer) -> None:
    SmtpTransport(smtp.settings()).send(
        a_message(), envelope_from=SENDER.envelope, to="zoe@example.net"
    )
    [mail] = smtp.handler.received
    assert mail.mail_from == "bounces@example.org"
    assert mail.rcpt_tos == ["zoe@example.net"]
    assert mail.login is None
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Example Help", "help@example.org")
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Hello Zoë\n"


def test_only_the_given_recipient_gets_the_message(smtp: SmtpServer) -> None:
    # RCPT TO comes from `to`, not from headers (which could name others).
    message = a_message()
    message["Cc"] = "someone-else@example.org"
    SmtpTransport(smtp.settings()).send(
        message, envelope_from="help@example.org", to="zoe@example.net"
    )
    assert smtp.handler.received[0].rcpt_tos == ["zoe@example.net"]


def test_one_connection_per_message(smtp: SmtpServer) -> None:
    transport = SmtpTransport(smtp.settings())
    for n in range(3):
        transport.send(a_message(), envelope_from="help@example.org", to=f"u{n}@example.net")
    assert [m.rcpt_tos for m in smtp.handler.received] == [
        ["u0@example.net"],
        ["u1@example.net"],
        ["u2@example.net"],
    ]


def test_auth_login(smtp_auth: SmtpServer) -> None:
    settings = smtp_auth.settings(username="mailer", password="pa55word")
    SmtpTransport(settings).send(a_message(), envelope_from="help@example.org", to="z@example.net")
    [mail] = smtp_auth.handler.received
    assert mail.login == b"mailer"
    assert mail.mail_from == "help@example.org"


def test_open_logs_in_for_the_check_command(smtp_auth: SmtpServer) -> None:
    client = SmtpTransport(smtp_auth.settings(username="mailer", password="pa55word")).open()
    try:
        code, _ = client.noop()
        assert code == 250
    finally:
        client.quit()


def test_wrong_password_is_a_one_line_error_without_the_password(smtp_auth: SmtpServer) -> None:
    settings = smtp_auth.settings(username="mailer", password="wrong-secret")
    with pytest.raises(MailDeliveryError) as info:
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    message = str(info.value)
    assert f"{HOST}:{smtp_auth.port}" in message
    assert "'mailer'" in message
    assert "wrong-secret" not in message
    assert "\n" not in message
    assert smtp_auth.handler.received == []


def test_server_requiring_auth_refuses_an_anonymous_sender(smtp_auth: SmtpServer) -> None:
    with pytest.raises(MailDeliveryError, match="did not accept"):
        SmtpTransport(smtp_auth.settings()).send(
            a_message(), envelope_from="h@example.org", to="z@example.net"
        )
    assert smtp_auth.handler.received == []


def test_refused_recipient(smtp: SmtpServer) -> None:
    smtp.handler.refuse_rcpt = "550 5.1.1 <z@example.net>: no such mailbox"
    with pytest.raises(MailDeliveryError, match="did not accept"):
        SmtpTransport(smtp.settings()).send(
            a_message(), envelope_from="h@example.org", to="z@example.net"
        )


def send_refused(smtp: SmtpServer, to: str = "zoe@example.net") -> MailDeliveryError:
    with pytest.raises(MailDeliveryError) as info:
        SmtpTransport(smtp.settings()).send(a_message(to), envelope_from="h@example.org", to=to)
    assert smtp.handler.received == []
    return info.value


def test_a_5xx_recipient_refusal_is_permanent_and_names_no_address(smtp: SmtpServer) -> None:
    smtp.handler.refuse_rcpt = "550 5.1.1 <zoe@example.net>: Recipient address rejected"
    error = send_refused(smtp)
    assert isinstance(error, MailRejected)
    assert str(error) == "the SMTP server did not accept the message: recipient refused (550 5.1.1)"
    assert "zoe" not in str(error)


def test_a_4xx_recipient_refusal_is_retried(smtp: SmtpServer) -> None:
    smtp.handler.refuse_rcpt = "450 4.2.1 <zoe@example.net>: mailbox busy, try later"
    error = send_refused(smtp)
    assert not isinstance(error, MailRejected)
    assert str(error) == "the SMTP server did not accept the message: recipient refused (450 4.2.1)"


def test_a_5xx_data_refusal_is_permanent(smtp: SmtpServer) -> None:
    smtp.handler.refuse_data = "554 5.7.1 message rejected as spam"
    error = send_refused(smtp)
    assert isinstance(error, MailRejected)
    assert str(error).endswith("message refused (554 5.7.1)")


def test_a_4xx_data_refusal_is_retried(smtp: SmtpServer) -> None:
    smtp.handler.refuse_data = "451 4.3.0 local error, try again"
    assert not isinstance(send_refused(smtp), MailRejected)


def test_a_5xx_sender_refusal_is_permanent(smtp: SmtpServer) -> None:
    smtp.handler.refuse_mail = "553 5.7.1 <h@example.org>: sender address rejected"
    error = send_refused(smtp)
    assert isinstance(error, MailRejected)
    assert str(error).endswith("sender refused (553 5.7.1)")


def test_authentication_required_is_a_configuration_problem_and_retried(
    smtp_auth: SmtpServer,
) -> None:
    # 530 at MAIL FROM: our login is missing, not this message refused; once
    # the operator fixes the settings, the retry goes out.
    error = send_refused(smtp_auth)
    assert not isinstance(error, MailRejected)
    assert "(530" in str(error)


@pytest.fixture
def smtp_ascii() -> Iterator[SmtpServer]:
    """A server that does not offer SMTPUTF8 (aiosmtpd's Controller offers it by default)."""
    controller, server = start_server(enable_SMTPUTF8=False)
    yield server
    controller.stop()


def test_an_address_needing_smtputf8_on_a_server_without_it_is_permanent(
    smtp_ascii: SmtpServer,
) -> None:
    # An internationalised domain: smtplib refuses before sending anything.
    error = send_refused(smtp_ascii, to="zoe@exämple.net")
    assert isinstance(error, MailRejected)
    assert "SMTPUTF8" in str(error)
    assert "zoe" not in str(error) and "mple" not in str(error)


def test_an_internationalised_address_goes_out_where_smtputf8_is_offered(
    smtp: SmtpServer,
) -> None:
    to = "zoe@exämple.net"
    SmtpTransport(smtp.settings()).send(a_message(to), envelope_from="h@example.org", to=to)
    assert smtp.handler.received[0].rcpt_tos == [to]


def test_a_dropped_connection_is_retried(smtp: SmtpServer) -> None:
    smtp.handler.refuse_rcpt = "421 4.3.2 shutting down"
    assert not isinstance(send_refused(smtp), MailRejected)


def test_unreachable_port_is_a_one_line_error_naming_host_and_port() -> None:
    port = free_port()  # nothing listens there any more
    settings = SmtpSettings(host=HOST, port=port, timeout_seconds=2)
    with pytest.raises(MailDeliveryError) as info:
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    message = str(info.value)
    assert f"{HOST}:{port}" in message
    assert message.startswith("cannot reach the SMTP server")
    assert "\n" not in message
    assert info.value.__cause__ is None


@pytest.fixture
def smtp_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[smtplib.SMTP]]:
    """Every plain SMTP client the transport opens; any left open are closed afterwards."""
    clients: list[smtplib.SMTP] = []

    class RecordingSMTP(smtplib.SMTP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            clients.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(smtplib, "SMTP", RecordingSMTP)
    yield clients
    for client in clients:
        client.close()


def test_starttls_against_a_server_without_tls_fails_cleanly(
    smtp: SmtpServer, smtp_clients: list[smtplib.SMTP]
) -> None:
    settings = smtp.settings(security=SmtpSecurity.STARTTLS)
    with pytest.raises(MailDeliveryError, match=f"{HOST}:{smtp.port}") as info:
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert "\n" not in str(info.value)
    assert len(smtp_clients) == 1
    assert smtp.handler.received == []


def test_failed_starttls_closes_the_connection(
    smtp: SmtpServer, smtp_clients: list[smtplib.SMTP]
) -> None:
    settings = smtp.settings(security=SmtpSecurity.STARTTLS)
    with pytest.raises(MailDeliveryError):
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert [client.sock for client in smtp_clients] == [None]


def test_failed_login_closes_the_connection(
    smtp_auth: SmtpServer, smtp_clients: list[smtplib.SMTP]
) -> None:
    settings = smtp_auth.settings(username="mailer", password="wrong")
    with pytest.raises(MailDeliveryError):
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert [client.sock for client in smtp_clients] == [None]


def test_ssl_against_a_plain_server_fails_cleanly(smtp: SmtpServer) -> None:
    settings = smtp.settings(security=SmtpSecurity.SSL)
    with pytest.raises(MailDeliveryError, match=f"{HOST}:{smtp.port}"):
        SmtpTransport(settings).send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert smtp.handler.received == []


def test_memory_transport_keeps_messages() -> None:
    transport = MemoryTransport()
    message = a_message()
    transport.send(message, envelope_from="bounces@example.org", to="zoe@example.net")
    [sent] = transport.sent
    assert sent.message is message
    assert (sent.envelope_from, sent.to) == ("bounces@example.org", "zoe@example.net")


def test_memory_transport_failing_flag() -> None:
    transport = MemoryTransport()
    transport.failing = True
    with pytest.raises(MailDeliveryError):
        transport.send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert transport.sent == []
    transport.failing = False
    transport.send(a_message(), envelope_from="h@example.org", to="z@example.net")
    assert len(transport.sent) == 1
