from __future__ import annotations

import email
import email.policy
import logging

import pytest

from keycloak_pwreset.errors import MailDeliveryError
from keycloak_pwreset.gateway import KeycloakUser
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.mail.message import Sender
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.paths import themes_dir
from tests.unit.fakes import MemoryTransport, route_to

LINK = "https://help.example.org/reset-password?token=SeCrEt-ToKeN_0123456789abcdefghijk"


def make_mailer(transport: MemoryTransport, sender: Sender) -> Mailer:
    return Mailer(
        EmailRenderer([themes_dir() / "emails"]), {"default": transport}, route_to(sender)
    )


def reset_context(first: str = "Zoë", site_name: str = "Example") -> dict[str, object]:
    user = KeycloakUser("id-z", "zoe", "zoe@example.net", first, "Tester", "")
    return {"user": user, "link": LINK, "ttl_minutes": 60, "site_name": site_name}


def test_envelope_sender_is_the_configured_envelope_from(transport: MemoryTransport) -> None:
    sender = Sender("help@example.org", "Example Help", envelope_from="bounces@mail.example.org")
    make_mailer(transport, sender).send(
        kind="reset", to="zoe@example.net", to_name="Zoë Tester", context=reset_context()
    )
    [sent] = transport.sent
    assert sent.envelope_from == "bounces@mail.example.org"
    assert sent.to == "zoe@example.net"
    [from_address] = sent.message["From"].addresses
    assert (from_address.display_name, from_address.addr_spec) == (
        "Example Help",
        "help@example.org",
    )


def test_envelope_sender_defaults_to_from(transport: MemoryTransport) -> None:
    make_mailer(transport, Sender("help@example.org", "Help")).send(
        kind="reset", to="zoe@example.net", to_name="Zoë", context=reset_context()
    )
    assert transport.sent[0].envelope_from == "help@example.org"


def test_hostile_input_end_to_end(transport: MemoryTransport) -> None:
    sender = Sender("help@example.org", "Help", reply_to="support@example.org")
    make_mailer(transport, sender).send(
        kind="reset",
        to="zoe@example.net",
        to_name="Zoë\r\nBcc: victim@example.org",
        context=reset_context(
            first="<b>Zoë</b>\r\nBcc: v@example.org", site_name="Ex\r\nBcc: victim@example.org"
        ),
    )
    parsed = email.message_from_bytes(bytes(transport.sent[0].message), policy=email.policy.default)
    names = {name.lower() for name in parsed}
    assert "bcc" not in names
    assert parsed["Subject"] == "Reset your password for Ex Bcc: victim@example.org"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["zoe@example.net"]
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["support@example.org"]
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in html.get_content()


def test_transport_failure_propagates(transport: MemoryTransport) -> None:
    transport.failing = True
    with pytest.raises(MailDeliveryError):
        make_mailer(transport, Sender("help@example.org")).send(
            kind="reset", to="zoe@example.net", to_name="Zoë", context=reset_context()
        )
    assert transport.sent == []


def test_the_body_never_reaches_the_log(
    transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        make_mailer(transport, Sender("help@example.org")).send(
            kind="reset", to="zoe@example.net", to_name="Zoë", context=reset_context()
        )
    assert caplog.records, "the mailer should log that it sent something"
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "SeCrEt-ToKeN" not in logged


def test_an_internationalised_domain_is_sent_in_its_ascii_form() -> None:
    from keycloak_pwreset.mail.mailer import deliverable

    assert deliverable("anna@bücher.example") == "anna@xn--bcher-kva.example"
    assert deliverable("plain@example.org") == "plain@example.org"


def test_addresses_that_can_never_be_delivered_are_refused_for_good() -> None:
    import pytest

    from keycloak_pwreset.errors import MailRejected
    from keycloak_pwreset.mail.mailer import deliverable

    for address in ("jörg@example.org", "a@exa\u200dmple..org"):
        with pytest.raises(MailRejected):
            deliverable(address)
