from __future__ import annotations

from keycloak_pwreset.gateway import KeycloakUser
from keycloak_pwreset.mail.emails import send_password_changed_email, send_reset_email
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.mail.message import Sender
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.paths import themes_dir
from tests.unit.fakes import MemoryTransport, route_to

USER = KeycloakUser(
    id="id-alice",
    username="alice",
    email="alice@example.org",
    first_name="Alice",
    last_name="Liddell",
    locale="de",
)


def make_mailer(transport: MemoryTransport) -> Mailer:
    sender = Sender("help@example.org", "Example Help")
    return Mailer(
        EmailRenderer([themes_dir() / "emails"]), {"default": transport}, route_to(sender)
    )


def text_of(transport: MemoryTransport) -> str:
    body = transport.sent[0].message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_send_reset_email(transport: MemoryTransport) -> None:
    link = "https://help.example.org/reset-password?token=abc"
    send_reset_email(
        make_mailer(transport),
        locale="en",
        user=USER,
        link=link,
        ttl_minutes=45,
        site_name="Example",
    )
    [sent] = transport.sent
    assert sent.to == "alice@example.org"
    [to] = sent.message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Alice Liddell", "alice@example.org")
    assert sent.message["Subject"] == "Reset your password for Example"
    text = text_of(transport)
    assert link in text
    assert "45 minutes" in text
    assert "(alice)" in text


def test_send_password_changed_email(transport: MemoryTransport) -> None:
    send_password_changed_email(
        make_mailer(transport),
        locale="en",
        user=USER,
        reset_url="https://help.example.org/forgot-password",
        site_name="Example",
    )
    [sent] = transport.sent
    assert sent.to == "alice@example.org"
    assert sent.message["Subject"] == "Your Example password was changed"
    text = text_of(transport)
    assert "https://help.example.org/forgot-password" in text
    assert "Hello Alice Liddell," in text


def test_display_name_falls_back_to_the_username(transport: MemoryTransport) -> None:
    nameless = KeycloakUser("id-b", "bob", "bob@example.org", "", "", "")
    send_password_changed_email(
        make_mailer(transport),
        locale="en",
        user=nameless,
        reset_url="https://h.org/f",
        site_name="Ex",
    )
    [to] = transport.sent[0].message["To"].addresses
    assert to.display_name == "bob"
    assert "Hello bob," in text_of(transport)
