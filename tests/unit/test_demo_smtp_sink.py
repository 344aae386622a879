"""The SMTP sink and its mail viewer, over real loopback sockets."""

from __future__ import annotations

import smtplib
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.mail_viewer import linkify
from keycloak_pwreset_demo.smtp_sink import MailViewer, SmtpSink


def make_message(
    subject: str = "Hello",
    to: str = "alice@example.org",
    text: str = "Open https://help.example.org/reset?token=abc.\nThanks",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Help Desk <help@example.org>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative("<p>Open <a href='https://help.example.org'>this</a></p>", "html")
    return message


def send(
    sink: SmtpSink,
    message: EmailMessage,
    *,
    envelope_from: str = "bounces@example.org",
    login: tuple[str, str] | None = None,
) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        if login is not None:
            client.login(*login)
        client.send_message(message, from_addr=envelope_from, to_addrs=[str(message["To"])])


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    with SmtpSink(mail_dir=tmp_path / "mail") as server:
        yield server


def test_receives_envelope_headers_and_both_bodies(sink: SmtpSink, tmp_path: Path) -> None:
    send(sink, make_message("Reset your password"))
    mail = sink.wait_for(to="Alice@Example.org", timeout=5)
    assert mail.mail_from == "bounces@example.org"
    assert mail.rcpt_tos == ("alice@example.org",)
    assert mail.subject == "Reset your password"
    assert mail.message["From"].addresses[0].display_name == "Help Desk"
    assert "https://help.example.org/reset?token=abc" in mail.text_body()
    assert "<a href='https://help.example.org'>" in mail.html_body()
    assert sink.mail_dir == tmp_path / "mail"
    assert mail.path == tmp_path / "mail" / "0001.eml"
    assert mail.path.read_bytes() == mail.raw
    assert sink.count() == 1
    assert sink.count(to="alice@example.org") == 1
    assert sink.count(to="bob@example.org") == 0


def test_wait_for_applies_the_predicate_and_clear_forgets(sink: SmtpSink) -> None:
    send(sink, make_message("First"))
    send(sink, make_message("Second"))
    assert sink.wait_for(lambda m: m.subject == "Second", timeout=5).subject == "Second"
    sink.clear()
    assert sink.messages == []


def test_wait_for_timeout_lists_what_arrived(sink: SmtpSink) -> None:
    send(sink, make_message("Welcome", to="carol@example.org"))
    sink.wait_for(timeout=5)
    with pytest.raises(TimeoutError) as caught:
        sink.wait_for(to="dave@example.org", timeout=0.2)
    message = str(caught.value)
    assert "No a mail to dave@example.org within 0.2 s" in message
    assert "received 1" in message
    assert "carol@example.org: 'Welcome'" in message


def test_stop_and_start_again_on_the_same_port(sink: SmtpSink) -> None:
    port = sink.port
    sink.stop()
    with pytest.raises(OSError):
        send(sink, make_message())
    sink.start()
    assert sink.port == port
    send(sink, make_message("After restart"))
    assert sink.wait_for(timeout=5).subject == "After restart"


def test_start_on_a_busy_port_is_a_clear_error(sink: SmtpSink) -> None:
    with pytest.raises(DemoError, match=f"Port {sink.port} on 127.0.0.1 is busy"):
        SmtpSink(port=sink.port).start()


def test_numbering_continues_after_existing_files(tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    (mail_dir / "0007.eml").write_bytes(b"old")
    with SmtpSink(mail_dir=mail_dir) as server:
        send(server, make_message())
        assert server.wait_for(timeout=5).path == mail_dir / "0008.eml"
    assert (mail_dir / "0007.eml").read_bytes() == b"old"


def test_required_auth_refuses_anonymous_and_wrong_password() -> None:
    with SmtpSink(require_auth=("mailer", "s3cret")) as server:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(server, make_message())
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError):
            send(server, make_message(), login=("mailer", "wrong"))
        send(server, make_message("Authenticated"), login=("mailer", "s3cret"))
        assert server.wait_for(timeout=5).subject == "Authenticated"
        assert server.count() == 1


def get(url: str) -> tuple[int, str, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback http)
        return response.status, response.read().decode(), dict(response.headers)


def test_viewer_escapes_html_and_links_only_http_urls(sink: SmtpSink) -> None:
    text = "Go to https://help.example.org/x?a=1&b=2 or javascript:alert(1)"
    message = make_message("<script>alert(1)</script> & more", text=text)
    send(sink, message)
    sink.wait_for(timeout=5)
    viewer = MailViewer(sink)
    viewer.start()
    try:
        status, index, headers = get(viewer.url + "/")
        assert status == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in index
        assert "<script>" not in index
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        _, page, _ = get(viewer.url + "/message/1")
        assert '<a href="https://help.example.org/x?a=1&amp;b=2"' in page
        assert 'href="javascript' not in page
        assert "<script>" not in page
    finally:
        viewer.stop()


def test_linkify_escapes_and_trims_trailing_punctuation() -> None:
    html = linkify('See <b>https://a.example/p?q="x"</b> and (https://b.example/path).')
    assert html.startswith("See &lt;b&gt;")
    assert '<a href="https://a.example/p?q=" rel="noreferrer noopener">' in html
    assert '<a href="https://b.example/path" rel="noreferrer noopener">' in html
    assert "https://b.example/path</a>)." in html
