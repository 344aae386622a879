from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from keycloak_pwreset.gateway import KeycloakUser
from keycloak_pwreset.mail.render import EmailRenderer, RenderedEmail, one_line
from keycloak_pwreset.paths import themes_dir

EMAILS = themes_dir() / "emails"
LINK = "https://help.example.org/reset-password?token=AbC-123_xyz"


def make_user(first: str = "Alice", last: str = "Liddell", username: str = "alice") -> KeycloakUser:
    return KeycloakUser(
        id="id-1",
        username=username,
        email="alice@example.org",
        first_name=first,
        last_name=last,
        locale="",
    )


def context_for(kind: str, user: KeycloakUser, site_name: str = "Example") -> dict[str, Any]:
    if kind == "reset":
        return {"user": user, "link": LINK, "ttl_minutes": 60, "site_name": site_name}
    if kind == "password-changed":
        return {
            "user": user,
            "reset_url": "https://help.example.org/forgot-password",
            "site_name": site_name,
        }
    if kind == "signup":
        return {"name": user.display_name, "link": LINK, "ttl_minutes": 60, "site_name": site_name}
    if kind == "account-exists":
        return {
            "name": user.display_name,
            "reset_link": LINK,
            "ttl_minutes": 60,
            "site_name": site_name,
        }
    if kind == "no-account":
        return {
            "email": user.email,
            "reset_url": "https://help.example.org/forgot-password",
            "signup_url": "https://help.example.org/signup",
            "site_name": site_name,
        }
    if kind == "invite":
        return {
            "name": user.display_name,
            "link": LINK,
            "valid_until": "9 December 2026",
            "site_name": site_name,
        }
    raise AssertionError(f"no test context for email kind {kind!r}: add one here")


# Kinds sent to an existing account name it by username; sign-up kinds have none yet.
NAMES_THE_ACCOUNT = {"reset", "password-changed"}
# Sent to an address with no account: there is no name to greet.
NAMELESS = {"no-account", "signup"}  # signup: typed names are not mailed unproven
KINDS = sorted(p.name for p in EMAILS.iterdir() if p.is_dir())


@pytest.fixture
def renderer() -> EmailRenderer:
    return EmailRenderer([EMAILS])


def test_shipped_kinds() -> None:
    assert {"reset", "password-changed"} <= set(KINDS)
    for kind in KINDS:
        for name in ("subject.txt", "body.txt", "body.html"):
            assert (EMAILS / kind / name).is_file(), (kind, name)


@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_kind_renders(renderer: EmailRenderer, kind: str) -> None:
    rendered = renderer.render(kind, context_for(kind, make_user()))
    assert isinstance(rendered, RenderedEmail)
    assert "Example" in rendered.subject
    assert "\n" not in rendered.subject
    greeting = "Hello," if kind in NAMELESS else "Hello Alice Liddell,"
    assert greeting in rendered.text
    assert greeting in rendered.html
    if kind in NAMES_THE_ACCOUNT:
        assert "(alice)" in rendered.text
    assert rendered.html.lstrip().lower().startswith("<!doctype html>")
    # Nothing left unrendered.
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in part and "{%" not in part


def test_reset_email_content(renderer: EmailRenderer) -> None:
    rendered = renderer.render("reset", context_for("reset", make_user()))
    assert rendered.subject == "Reset your password for Example"
    assert LINK in rendered.text
    assert f'href="{LINK}"' in rendered.html
    assert "expires in 60 minutes" in rendered.text
    assert "expires in 60 minutes" in rendered.html


def test_password_changed_email_content(renderer: EmailRenderer) -> None:
    rendered = renderer.render("password-changed", context_for("password-changed", make_user()))
    assert rendered.subject == "Your Example password was changed"
    assert "https://help.example.org/forgot-password" in rendered.text
    assert 'href="https://help.example.org/forgot-password"' in rendered.html


@pytest.mark.parametrize("kind", KINDS)
def test_strict_undefined_fails_loudly(renderer: EmailRenderer, kind: str) -> None:
    context = context_for(kind, make_user())
    del context["site_name"]
    with pytest.raises(UndefinedError):
        renderer.render(kind, context)


def test_unknown_kind(renderer: EmailRenderer) -> None:
    with pytest.raises(TemplateNotFound):
        renderer.render("no-such-kind", {})


@pytest.mark.parametrize("kind", KINDS)
def test_names_are_escaped_in_html_but_not_in_text(renderer: EmailRenderer, kind: str) -> None:
    user = make_user(first="<script>alert('x')</script>", last="O'Brien & Sons", username="a<b>")
    rendered = renderer.render(kind, context_for(kind, user, site_name='"Tom" & <Jerry>'))
    if kind in NAMELESS:  # no name in it: the site's name stands in for hostile text
        assert "<Jerry>" not in rendered.html and "&amp; &lt;Jerry&gt;" in rendered.html
        assert '"Tom" & <Jerry>' in rendered.text
        return
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "&amp; Sons" in rendered.html
    if kind in NAMES_THE_ACCOUNT:
        assert "a&lt;b&gt;" in rendered.html
    assert "&amp;lt;" not in rendered.html  # escaped exactly once
    assert "&amp;amp;" not in rendered.html
    # The text body is never interpreted as markup: no entities there.
    assert "<script>alert('x')</script> O'Brien & Sons" in rendered.text
    assert "&lt;" not in rendered.text and "&amp;" not in rendered.text
    assert "&#39;" not in rendered.text
    if kind in NAMES_THE_ACCOUNT:
        assert "(a<b>)" in rendered.text


def test_link_is_attribute_escaped_in_html(renderer: EmailRenderer) -> None:
    context = context_for("reset", make_user())
    context["link"] = 'https://x.org/r?token=a"><img src=x>'
    rendered = renderer.render("reset", context)
    assert '"><img' not in rendered.html
    assert "&#34;&gt;&lt;img" in rendered.html


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "site_name",
    ["Evil\r\nBcc: victim@example.org", "Evil\nX-Injected: 1", "Evil\rX", "A\x00B", "Tab\tName"],
)
def test_subject_is_always_one_line(renderer: EmailRenderer, kind: str, site_name: str) -> None:
    rendered = renderer.render(kind, context_for(kind, make_user(), site_name=site_name))
    assert "\r" not in rendered.subject
    assert "\n" not in rendered.subject
    assert "\x00" not in rendered.subject
    assert "\t" not in rendered.subject
    assert rendered.subject == rendered.subject.strip()


def test_template_override_folder_wins(tmp_path: Path) -> None:
    override = tmp_path / "reset"
    override.mkdir()
    (override / "subject.txt").write_text("Custom {{ site_name }}\n", encoding="utf-8")
    renderer = EmailRenderer([tmp_path, EMAILS])
    rendered = renderer.render("reset", context_for("reset", make_user()))
    assert rendered.subject == "Custom Example"
    assert LINK in rendered.text  # the other files still come from the shipped theme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("  padded  ", "padded"),
        ("a\r\nb", "a b"),
        ("a\n\n\nb", "a b"),
        ("a\tb", "a b"),
        ("a\x00b", "a b"),
        ("a\u2028b\u2029c\x85d\x0be\x0cf", "a b c d e f"),
        ("", ""),
        ("\r\n", ""),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected
