"""Who sends each email: site-wide sender, overridden per kind, then per language of the kind."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from keycloak_pwreset.mail.message import Sender
from keycloak_pwreset.mail.routing import MailRouting, Route
from keycloak_pwreset.settings import MailSettings

SITE = {"from_address": "help@example.org", "from_name": "Example Help"}


def routing(**mail: Any) -> MailRouting:
    return MailRouting(MailSettings(**{**SITE, **mail}))


def test_site_wide_defaults_for_every_kind_and_language() -> None:
    for kind in ("reset", "password-changed", "signup", "account-exists", "custom"):
        for locale in ("", "en", "de", "pt-BR"):
            route = routing().route(kind, locale)
            assert route == Route(
                Sender(from_address="help@example.org", from_name="Example Help"),
                profile="default",
            )
            assert route.sender.reply_to is None
            assert route.sender.envelope == "help@example.org"


def test_site_wide_reply_to_envelope_and_profile() -> None:
    route = routing(
        reply_to="support@example.org", envelope_from="bounces@example.org", smtp_profile="bulk"
    ).route("signup", "fr")
    assert route.sender.reply_to == "support@example.org"
    assert route.sender.envelope == "bounces@example.org"
    assert route.profile == "bulk"


def test_missing_from_name_is_empty() -> None:
    assert MailRouting(MailSettings(from_address="a@example.org")).route("reset").sender == (
        Sender(from_address="a@example.org", from_name="")
    )


def test_kind_override_applies_to_that_kind_only() -> None:
    mail = routing(
        kinds={"reset": {"from_address": "reset@example.org", "from_name": "Password Reset"}}
    )
    reset = mail.route("reset", "en")
    assert reset.sender.from_address == "reset@example.org"
    assert reset.sender.from_name == "Password Reset"
    assert mail.route("reset").sender.from_address == "reset@example.org"  # no language given
    signup = mail.route("signup", "en")
    assert signup.sender.from_address == "help@example.org"
    assert signup.sender.from_name == "Example Help"


def test_kind_override_keeps_the_fields_it_does_not_set() -> None:
    mail = routing(reply_to="support@example.org", kinds={"reset": {"from_name": "Resets"}})
    sender = mail.route("reset", "de").sender
    assert sender.from_name == "Resets"
    assert sender.from_address == "help@example.org"
    assert sender.reply_to == "support@example.org"


def test_kind_and_locale_override() -> None:
    mail = routing(
        kinds={
            "reset": {
                "from_name": "Password Reset",
                "locales": {"de": {"from_name": "Passwort-Hilfe", "reply_to": "de@example.org"}},
            }
        }
    )
    german = mail.route("reset", "de").sender
    assert german.from_name == "Passwort-Hilfe"
    assert german.reply_to == "de@example.org"
    assert german.from_address == "help@example.org"
    assert mail.route("reset", "de-AT").sender.from_name == "Passwort-Hilfe"  # region → language
    assert mail.route("reset", "fr").sender.from_name == "Password Reset"
    assert mail.route("reset", "fr").sender.reply_to is None
    assert mail.route("reset", "").sender.from_name == "Password Reset"
    assert mail.route("signup", "de").sender.from_name == "Example Help"  # other kinds untouched


def test_locale_keys_and_tags_match_in_any_case() -> None:
    mail = routing(kinds={"reset": {"locales": {"PT-br": {"from_name": "Ajuda"}}}})
    assert mail.route("reset", "pt-BR").sender.from_name == "Ajuda"
    assert mail.route("reset", "PT-BR").sender.from_name == "Ajuda"


def test_pt_br_uses_pt_when_it_has_no_entry_of_its_own() -> None:
    mail = routing(kinds={"reset": {"locales": {"pt": {"from_name": "Ajuda PT"}}}})
    assert mail.route("reset", "pt-BR").sender.from_name == "Ajuda PT"
    assert mail.route("reset", "pt").sender.from_name == "Ajuda PT"
    assert mail.route("reset", "es").sender.from_name == "Example Help"


def test_pt_br_wins_over_pt_and_the_fields_merge() -> None:
    mail = routing(
        kinds={
            "reset": {
                "locales": {
                    # pt-BR listed first: the order in the file must not matter
                    "pt-BR": {"from_name": "Ajuda Brasil"},
                    "pt": {"from_name": "Ajuda Portugal", "reply_to": "pt@example.org"},
                }
            }
        }
    )
    brazil = mail.route("reset", "pt-BR").sender
    assert brazil.from_name == "Ajuda Brasil"
    assert brazil.reply_to == "pt@example.org"  # from pt: pt-BR does not set it
    portugal = mail.route("reset", "pt").sender
    assert portugal.from_name == "Ajuda Portugal"  # pt-BR's entry is not used for pt
    assert mail.route("reset", "pt-PT").sender.from_name == "Ajuda Portugal"


def test_smtp_profile_routing() -> None:
    mail = routing(
        kinds={
            "signup": {"smtp_profile": "marketing"},
            "reset": {"locales": {"ja": {"smtp_profile": "asia"}}},
        }
    )
    assert mail.route("signup", "en").profile == "marketing"
    assert mail.route("signup", "ja").profile == "marketing"
    assert mail.route("reset", "ja").profile == "asia"
    assert mail.route("reset", "de").profile == "default"
    assert mail.route("password-changed", "ja").profile == "default"
    site = routing(smtp_profile="main", kinds={"reset": {"from_name": "Resets"}})
    assert site.route("reset", "de").profile == "main"  # a kind without a profile keeps the site's


def test_envelope_defaults_to_the_from_address_of_the_route() -> None:
    mail = routing(
        kinds={
            "reset": {
                "from_address": "reset@example.org",
                "locales": {"de": {"from_address": "passwort@example.de"}},
            }
        }
    )
    assert mail.route("reset", "en").sender.envelope == "reset@example.org"
    assert mail.route("reset", "de").sender.envelope == "passwort@example.de"
    assert mail.route("signup", "de").sender.envelope == "help@example.org"
    assert mail.route("reset", "de").sender.envelope_from is None


def test_explicit_envelope_is_kept_or_overridden() -> None:
    mail = routing(
        envelope_from="bounces@example.org",
        kinds={
            "reset": {"from_address": "reset@example.org"},
            "signup": {"envelope_from": "signup-bounces@example.org"},
        },
    )
    assert mail.route("reset", "en").sender.envelope == "bounces@example.org"
    assert mail.route("signup", "en").sender.envelope == "signup-bounces@example.org"


def test_route_is_immutable() -> None:
    route = routing().route("reset", "en")
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.profile = "other"  # type: ignore[misc]
