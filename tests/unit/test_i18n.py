"""Languages: tags, negotiation (single tags, ui_locales, Accept-Language), catalogs, `_()`."""

from __future__ import annotations

import pytest
from babel import Locale
from babel.support import NullTranslations
from jinja2 import Environment
from markupsafe import Markup

from keycloak_pwreset.i18n import (
    MAX_HINT_CHARS,
    MAX_HINT_TAGS,
    SHIPPED_LOCALES,
    SOURCE_LOCALE,
    Languages,
    canonical,
    fallback_chain,
    jinja_gettext,
    text_direction,
    translations,
)
from keycloak_pwreset.results import MESSAGES, Result

FORGOT = "Forgot your password?"
HELLO = "Hello %(name)s,"
TRANSLATED = [tag for tag in SHIPPED_LOCALES if tag != SOURCE_LOCALE]


@pytest.fixture
def shipped() -> Languages:
    return Languages(SHIPPED_LOCALES, "en")


# -- tags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "chain"),
    [
        ("de", ["de"]),
        ("pt-BR", ["pt-BR", "pt"]),
        ("zh-Hans-CN", ["zh-Hans-CN", "zh-Hans", "zh"]),
        ("de-CH-1996", ["de-CH-1996", "de-CH", "de"]),
    ],
)
def test_fallback_chain(tag: str, chain: list[str]) -> None:
    assert fallback_chain(tag) == chain


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de", "de"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("PT-br", "pt-BR"),
        ("en-US", "en-US"),
        ("zh-CN", "zh-Hans-CN"),  # Babel's canonical form adds the script
        ("zh-Hans-CN", "zh-Hans-CN"),
        ("xx", ""),
        ("", ""),
        ("<script>", ""),
        ("de\n", ""),
        ("\x00", ""),
        ("x" * 300, ""),
        ("q=0.5", ""),
    ],
)
def test_canonical(tag: str, expected: str) -> None:
    assert canonical(tag) == expected


@pytest.mark.parametrize(
    ("tag", "direction"),
    [
        ("ar", "rtl"),
        ("ar-EG", "rtl"),
        ("he", "rtl"),
        ("he-IL", "rtl"),
        ("fa", "rtl"),
        ("en", "ltr"),
        ("de", "ltr"),
        ("ja", "ltr"),
        ("zh-CN", "ltr"),
        ("pt-BR", "ltr"),
        ("", "ltr"),
        ("xx", "ltr"),
        ("<script>", "ltr"),
        ("x" * 300, "ltr"),
        ("\x00", "ltr"),
    ],
)
def test_text_direction(tag: str, direction: str) -> None:
    assert text_direction(tag) == direction


# -- negotiation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        # single tags, any case
        ("de", "de"),
        ("DE", "de"),
        ("fr", "fr"),
        ("pt-BR", "pt-BR"),
        ("Pt-bR", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-CN", "zh-CN"),
        ("ZH-cn", "zh-CN"),
        ("en-US", "en"),
        ("de-AT", "de"),
        # close relatives of an offered language
        ("pt-PT", "pt-BR"),
        ("pt", "pt-BR"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        # ui_locales: a space-separated list, first offered wins
        ("fr ja", "fr"),
        ("xx ja de", "ja"),
        ("  nl   it ", "nl"),
        # Accept-Language with q-values
        ("fr;q=0.5, de", "de"),
        ("fr;q=0.5,de;q=0.6", "de"),
        ("de;q=0, fr;q=0.1", "fr"),
        ("de;q=0", "en"),
        ("de;q=0.0, ja;q=0.001", "ja"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
        ("xx, sv;q=0.9, it;q=0.1", "it"),
        ("es;q=0.8, it;q=0.8", "es"),  # equal weights keep the header's order
        ("*", "en"),
        ("*;q=1, nl;q=0.2", "nl"),
        ("de;q=nonsense, pl;q=0.3", "pl"),  # a malformed weight counts as 0
        # junk: the default, cleanly
        ("<script>", "en"),
        ("<script>alert(1)</script>", "en"),
        ("de\n", "de"),
        ("\r\nde", "de"),
        ("x" * 300, "en"),
        ("xx", "en"),
        ("x", "en"),
        ("\x00", "en"),
        (";q=1", "en"),
        (",,,", "en"),
        ("", "en"),
    ],
)
def test_pick(shipped: Languages, candidate: str, expected: str) -> None:
    assert shipped.pick(candidate) == expected


def test_pick_takes_the_first_candidate_that_matches(shipped: Languages) -> None:
    assert shipped.pick(None, "", "xx", "ja", "de") == "ja"
    assert shipped.pick("fr", "de") == "fr"
    assert shipped.pick(None, "de;q=0", "nl") == "nl"


def test_pick_without_candidates_gives_the_default() -> None:
    languages = Languages(["en", "de", "fr"], "de")
    assert languages.pick() == "de"
    assert languages.pick(None, "", "xx") == "de"


def test_pick_always_returns_an_offered_language() -> None:
    languages = Languages(["en", "de"], "en")
    junk = ["fr", "ja;q=1", "*", "en-GB", "de-DE", "de-CH, en;q=0.1", "x" * 1000, "<b>de</b>"]
    for candidate in junk:
        assert languages.pick(candidate) in languages.offered, candidate


def test_pick_accept_language_with_space_before_the_weight(shipped: Languages) -> None:
    # RFC 9110: weight = OWS ";" OWS "q=" qvalue
    assert shipped.pick("fr;q=0.9, de; q=0.1") == "fr"
    assert shipped.pick("de; q=0, fr; q=0.5") == "fr"
    assert shipped.pick("de ;q=0.2 , ja ; q=0.3") == "ja"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("pt-br", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("EN", "en"),
        ("sv", ""),
        ("xx", ""),
        ("", ""),
        ("<script>", ""),
        ("de fr", ""),  # match takes one tag; lists are pick's job
    ],
)
def test_match(shipped: Languages, tag: str, expected: str) -> None:
    assert shipped.match(tag) == expected


def test_match_prefers_the_closest_offered_tag() -> None:
    languages = Languages(["en", "pt", "pt-BR"], "en")
    assert languages.match("pt-BR") == "pt-BR"
    assert languages.match("pt-PT") == "pt"  # its prefix, before any other "pt-*"
    assert languages.match("pt") == "pt"


def test_offered_tags_keep_the_sites_spelling() -> None:
    languages = Languages(["en", "zh-CN"], "en")
    assert languages.match("zh-Hans-CN") == "zh-CN"  # not Babel's zh-Hans-CN
    assert languages.offered == ["en", "zh-CN"]


def test_default_is_matched_against_the_offered_tags() -> None:
    assert Languages(["en", "pt-BR"], "pt").default == "pt-BR"
    assert Languages(["en", "de"], "DE").default == "de"
    assert Languages(["en", "de"], "de").pick("xx") == "de"


# -- names ------------------------------------------------------------------------


def test_names_are_each_languages_own_name(shipped: Languages) -> None:
    names = dict(shipped.names())
    assert [tag for tag, _ in shipped.names()] == list(SHIPPED_LOCALES)  # the site's order
    assert names["en"] == "English"
    assert names["de"] == "Deutsch"
    assert names["fr"] == "français"
    assert names["es"] == "español"
    assert names["ja"] == "日本語"
    assert names["pt-BR"].startswith("português")
    assert names["zh-CN"].startswith("中文")
    for tag in TRANSLATED:
        english_name = Locale.parse(tag.replace("-", "_")).get_display_name("en")
        assert names[tag], tag
        assert names[tag] != english_name, f"{tag} is named in English: {names[tag]!r}"


def test_names_of_an_unknown_tag_is_the_tag() -> None:
    assert Languages(["en", "xx"], "en").names() == [("en", "English"), ("xx", "xx")]


# -- catalogs -----------------------------------------------------------------------


@pytest.mark.parametrize("tag", TRANSLATED)
def test_each_shipped_language_has_real_translations(tag: str) -> None:
    catalog = translations(tag)
    assert isinstance(catalog, NullTranslations)
    for msgid in (FORGOT, MESSAGES[Result.MISMATCHED_PASSWORDS]):
        text = catalog.gettext(msgid)
        assert text.strip(), (tag, msgid)
        assert text != msgid, f"{tag}: {msgid!r} is not translated"


def test_german_is_german() -> None:
    assert translations("de").gettext(FORGOT) == "Passwort vergessen?"


def test_region_falls_back_to_the_language_catalog() -> None:
    assert translations("de-AT").gettext(FORGOT) == translations("de").gettext(FORGOT)


def test_english_returns_the_msgid() -> None:
    for tag in ("en", "en-GB"):
        assert translations(tag).gettext(FORGOT) == FORGOT
        assert translations(tag).gettext(HELLO) == HELLO


@pytest.mark.parametrize("tag", ["xx", "sv", "pt", "", "<script>"])
def test_a_language_without_catalog_gets_null_translations(tag: str) -> None:
    catalog = translations(tag)
    assert type(catalog) is NullTranslations
    assert catalog.gettext(FORGOT) == FORGOT


# -- _() in templates ------------------------------------------------------------------


def render(source: str, tag: str = "en", *, autoescape: bool = True, **values: object) -> str:
    # Emails' text parts are rendered without autoescaping, like this.
    env = Environment(autoescape=autoescape, extensions=["jinja2.ext.i18n"])  # noqa: S701
    return env.from_string(source).render(values, _=jinja_gettext(tag))


def test_gettext_translates() -> None:
    assert render('{{ _("Forgot your password?") }}', "de") == "Passwort vergessen?"
    assert render('{{ _("Forgot your password?") }}', "en") == FORGOT


def test_gettext_escapes_variables_when_autoescaping() -> None:
    out = render('{{ _("Hello %(name)s,", name=who) }}', "en", who="<b>Eve</b> & co")
    assert out == "Hello &lt;b&gt;Eve&lt;/b&gt; &amp; co,"
    german = render('{{ _("Hello %(name)s,", name=who) }}', "de", who="<i>x</i>")
    assert "&lt;i&gt;x&lt;/i&gt;" in german
    assert "<i>" not in german
    assert german == translations("de").gettext(HELLO) % {"name": Markup.escape("<i>x</i>")}


def test_gettext_does_not_escape_the_catalog_text() -> None:
    # The message lists the characters < > & " themselves.
    message = MESSAGES[Result.INVALID_NAME]
    assert "<" in message and "&" in message
    assert render("{{ _(m) }}", "en", m=message) == message
    assert "&lt;" not in render("{{ _(m) }}", "de", m=message)


def test_gettext_does_not_escape_variables_in_text_templates() -> None:
    out = render('{{ _("Hello %(name)s,", name=who) }}', "en", autoescape=False, who="<b>")
    assert out == "Hello <b>,"


@pytest.mark.parametrize("autoescape", [True, False])
def test_gettext_without_variables_leaves_a_literal_percent(autoescape: bool) -> None:
    # The message contains "$ % !": %-formatting it would raise or mangle it.
    message = MESSAGES[Result.INVALID_NAME]
    assert "%" in message
    out = render("{{ _(m) }}", "en", autoescape=autoescape, m=message)
    assert "$ % !" in out
    assert render('{{ _("100% sure, 50%(off)") }}', autoescape=autoescape) == (
        "100% sure, 50%(off)"
    )
    for tag in TRANSLATED:
        assert "%" in render("{{ _(m) }}", tag, autoescape=autoescape, m=message), tag


def test_gettext_formats_when_given_variables() -> None:
    assert render('{{ _("Hello %(name)s,", name="Jane") }}', "en") == "Hello Jane,"
    german = render('{{ _("Hello %(name)s,", name="Jane") }}', "de")
    assert german == translations("de").gettext(HELLO) % {"name": "Jane"}
    assert "Jane" in german and "%(" not in german
    minutes = render('{{ _("%(n)s minutes", n=15) }}', "en")
    assert minutes == "15 minutes"


# -- bounded work on hostile hints (Accept-Language amplification) -----------------------------


class CountingParse:
    """Locale.parse, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._parse = Locale.parse

    def __call__(self, *args: object, **kwargs: object) -> Locale:
        self.calls += 1
        return self._parse(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> CountingParse:
    counter = CountingParse()
    canonical.cache_clear()  # every tag must really be parsed, not come from the cache
    monkeypatch.setattr(Locale, "parse", counter)
    return counter


def huge_accept_language() -> str:
    """15 kB of distinct unknown tags (so no cache helps), then a language the site offers."""
    junk = ", ".join(f"x{n}-{'a' * 8}" for n in range(1100))
    header = f"sv, {junk}, de;q=0.9"
    assert len(header) > 15_000
    return header


def test_a_15kb_accept_language_costs_a_handful_of_parses(
    shipped: Languages, parses: CountingParse
) -> None:
    header = huge_accept_language()
    assert shipped.pick(header) == shipped.pick("sv, x0-aaaaaaaa, x1-aaaaaaaa") == "en"
    assert parses.calls <= 2 * MAX_HINT_TAGS  # not ~1,000: the rest of the header is ignored


def test_a_long_header_chooses_what_its_first_tags_choose(shipped: Languages) -> None:
    first = "sv, fr;q=0.8, de;q=0.9"
    header = first + ", " + ", ".join(f"x{n}" for n in range(5000)) + ", ja;q=1.0"
    assert shipped.pick(header) == shipped.pick(first) == "de"


def test_only_the_first_tags_and_bytes_are_read(shipped: Languages) -> None:
    nine = ", ".join(["sv"] * MAX_HINT_TAGS + ["de"])
    assert shipped.pick(nine) == "en"  # the ninth tag is not considered
    padded = "sv;q=1.0, " + " " * MAX_HINT_CHARS + ", de"
    assert shipped.pick(padded) == "en"  # past the first bytes
    cut = "x" * (MAX_HINT_CHARS - 3) + ", de-CH"  # a tag cut in half is dropped, not misread
    assert shipped.pick(cut) == "en"
    assert shipped.pick("sv, de-CH") == "de"  # the control


def test_a_long_explicit_choice_is_bounded_too(shipped: Languages, parses: CountingParse) -> None:
    """kc_locale / ui_locales / the language cookie / a form's locale field (space-separated)."""
    hint = " ".join(f"x{n}" for n in range(5000)) + " de"
    assert shipped.first_offered(hint) == ""
    assert parses.calls <= MAX_HINT_TAGS
    assert shipped.first_offered("xx sv de ja") == "de"


def test_canonical_is_cached_and_bounded() -> None:
    info = canonical.cache_info()
    assert info.maxsize is not None and info.maxsize <= 1024
    canonical("de-CH")
    before = canonical.cache_info().hits
    canonical("de-CH")
    assert canonical.cache_info().hits == before + 1


def test_traditional_chinese_is_never_served_simplified() -> None:
    offered = Languages(["en", "zh-CN", "zh-TW", "ar"], "en")
    assert [offered.pick(tag) for tag in ("zh-TW", "zh-HK", "zh-Hant", "zh-MO")] == ["zh-TW"] * 4
    assert [offered.pick(tag) for tag in ("zh-CN", "zh-SG", "zh-Hans", "zh")] == ["zh-CN"] * 4
    assert offered.pick("ar-EG") == "ar"
