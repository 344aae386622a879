"""SMTP connections reused: one connection for many messages, a dropped one replaced, no email
lost or sent twice."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from keycloak_pwreset.errors import MailDeliveryError
from keycloak_pwreset.mail import transport as transport_module
from keycloak_pwreset.mail.transport import SmtpTransport
from tests.unit.test_mail_transport import (
    HOST,
    SENDER,
    RecordingHandler,
    SmtpServer,
    a_message,
    free_port,
)


@dataclass
class DroppingHandler(RecordingHandler):
    """Closes the connection once, at the next MAIL or DATA command, as a server that drops
    an idle client (or dies mid-message) would."""

    drop_at_mail: bool = False
    drop_at_data: bool = False

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.drop_at_mail:
            self.drop_at_mail = False
            server.transport.close()
        return await super().handle_MAIL(server, session, envelope, address, mail_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_at_data:
            self.drop_at_data = False
            server.transport.close()
            return "451 dropped"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def dropping() -> Iterator[SmtpServer]:
    handler = DroppingHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    yield SmtpServer(handler, port)
    controller.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[smtplib.SMTP]]:
    """Every plain SMTP connection opened."""
    opened: list[smtplib.SMTP] = []

    class Counting(smtplib.SMTP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            opened.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(smtplib, "SMTP", Counting)
    yield opened
    for client in opened:
        client.close()


def send(transport: SmtpTransport, to: str) -> None:
    transport.send(a_message(to), envelope_from=SENDER.envelope, to=to)


def test_one_connection_carries_many_messages(
    dropping: SmtpServer, connections: list[smtplib.SMTP]
) -> None:
    transport = SmtpTransport(dropping.settings())
    for n in range(5):
        send(transport, f"user{n}@example.net")
    assert len(connections) == 1
    assert [r.rcpt_tos for r in dropping.handler.received] == [
        [f"user{n}@example.net"] for n in range(5)
    ]
    transport.close()
    assert connections[0].sock is None  # closed on shutdown


def test_threads_share_a_bounded_pool(dropping: SmtpServer, connections: list[Any]) -> None:
    transport = SmtpTransport(dropping.settings())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: send(transport, f"user{n}@example.net"), range(40)))
    assert len(dropping.handler.received) == 40
    assert len(connections) <= 4
    transport.close()


def test_a_connection_dropped_while_idle_is_replaced_and_the_email_sent_once(
    dropping: SmtpServer, connections: list[smtplib.SMTP]
) -> None:
    transport = SmtpTransport(dropping.settings())
    send(transport, "first@example.net")
    assert isinstance(dropping.handler, DroppingHandler)
    dropping.handler.drop_at_mail = True  # the pooled connection dies before the next MAIL
    send(transport, "second@example.net")
    assert [r.rcpt_tos for r in dropping.handler.received] == [
        ["first@example.net"],
        ["second@example.net"],
    ]
    assert len(connections) == 2
    transport.close()


def test_a_connection_lost_during_data_is_not_resent_here(
    dropping: SmtpServer, connections: list[smtplib.SMTP]
) -> None:
    """The server may have the message by then: the job's retry decides, never a blind resend."""
    transport = SmtpTransport(dropping.settings())
    send(transport, "first@example.net")
    assert isinstance(dropping.handler, DroppingHandler)
    dropping.handler.drop_at_data = True
    with pytest.raises(MailDeliveryError):
        send(transport, "second@example.net")
    assert len(dropping.handler.received) == 1
    send(transport, "third@example.net")  # the broken connection is not reused
    assert len(connections) == 2
    transport.close()


def test_a_fresh_connection_that_drops_is_not_retried(
    dropping: SmtpServer, connections: list[smtplib.SMTP]
) -> None:
    assert isinstance(dropping.handler, DroppingHandler)
    dropping.handler.drop_at_mail = True
    with pytest.raises(MailDeliveryError):
        send(SmtpTransport(dropping.settings()), "first@example.net")
    assert len(connections) == 1
    assert dropping.handler.received == []


def test_an_old_idle_connection_is_not_reused(
    dropping: SmtpServer, connections: list[smtplib.SMTP], monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = SmtpTransport(dropping.settings())
    send(transport, "first@example.net")
    monkeypatch.setattr(transport_module, "IDLE_SECONDS", 0.0)
    send(transport, "second@example.net")
    assert len(connections) == 2
    assert connections[0].sock is None
    transport.close()


def test_after_close_connections_are_not_kept(
    dropping: SmtpServer, connections: list[smtplib.SMTP]
) -> None:
    transport = SmtpTransport(dropping.settings())
    transport.close()
    send(transport, "late@example.net")
    assert len(dropping.handler.received) == 1
    assert connections[0].sock is None
    assert threading.active_count() >= 1
