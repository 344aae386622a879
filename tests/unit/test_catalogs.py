"""The shipped message catalogs: complete, consistent with each other, and up to date."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from keycloak_pwreset.i18n import (
    LOCALES_DIR,
    SHIPPED_LOCALES,
    SOURCE_LOCALE,
    canonical,
    catalog_path,
    translations,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
POT = LOCALES_DIR / "messages.pot"
TRANSLATED = [tag for tag in SHIPPED_LOCALES if tag != SOURCE_LOCALE]
UPDATE_HINT = (
    "the message catalogs are out of date: run the extract/update commands from the README "
    "(section Languages):\n"
    "  pybabel extract -F babel.cfg -k N_ --no-location --sort-output "
    "-o keycloak_pwreset/locales/messages.pot .\n"
    "  pybabel update --no-fuzzy-matching -i keycloak_pwreset/locales/messages.pot "
    "-d keycloak_pwreset/locales -D messages\n"
    "then translate the new entries in every catalog"
)

# Python %-format placeholders, named: "%(name)s", "%(count)d", ...
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


@cache
def read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def entries(path: Path) -> dict[str, str]:
    """msgid → msgstr of every non-header, non-obsolete entry."""
    catalog = read(path)
    found = {}
    for message in catalog:
        if not message.id:
            continue
        assert isinstance(message.id, str), f"{path}: plural entries are not expected"
        found[message.id] = str(message.string or "")
    return found


def msgids(path: Path) -> set[str]:
    return set(entries(path))


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def test_template_has_messages() -> None:
    ids = msgids(POT)
    assert len(ids) > 20
    assert "Forgot your password?" in ids
    assert all(not text for text in entries(POT).values())


def test_every_shipped_language_has_a_catalog_and_no_other_is_shipped() -> None:
    on_disk = sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir())
    assert on_disk == sorted(tag.replace("-", "_") for tag in TRANSLATED)
    for tag in TRANSLATED:
        assert catalog_path(tag).is_file(), tag


@pytest.mark.parametrize("tag", TRANSLATED)
def test_catalog_header_names_its_language(tag: str) -> None:
    language = str(read(catalog_path(tag)).locale).replace("_", "-")
    assert canonical(language) == canonical(tag), language  # zh_CN is written zh_Hans_CN


@pytest.mark.parametrize("tag", TRANSLATED)
def test_every_message_is_translated(tag: str) -> None:
    have = entries(catalog_path(tag))
    missing = sorted(m for m in msgids(POT) if not have.get(m, "").strip())
    assert not missing, f"{tag}: {len(missing)} untranslated messages, e.g. {missing[:3]}"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_no_translation_is_fuzzy(tag: str) -> None:
    # Fuzzy entries are dropped when the catalog is compiled: English would show.
    fuzzy = sorted(str(m.id) for m in read(catalog_path(tag)) if m.id and m.fuzzy)
    assert not fuzzy, f"{tag}: fuzzy entries {fuzzy[:3]}"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_placeholders_are_kept(tag: str) -> None:
    wrong = {
        msgid: msgstr
        for msgid, msgstr in entries(catalog_path(tag)).items()
        if msgstr and placeholders(msgid) != placeholders(msgstr)
    }
    assert not wrong, f"{tag}: placeholders differ from the msgid in {wrong}"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_translations_with_placeholders_can_be_formatted(tag: str) -> None:
    # A stray "%" (not "%%") in a msgstr would fail when the email is rendered.
    for msgid, msgstr in entries(catalog_path(tag)).items():
        names = {name[2:].split(")")[0] for name in placeholders(msgid)}
        if not names or not msgstr:
            continue
        values = {name: f"<{name.upper()}>" for name in names}
        formatted = msgstr % values
        assert all(value in formatted for value in values.values()), (tag, msgid)


@pytest.mark.parametrize("tag", TRANSLATED)
def test_no_new_lines_or_markup_in_translations(tag: str) -> None:
    problems = []
    for msgid, msgstr in entries(catalog_path(tag)).items():
        if "\n" in msgstr and "\n" not in msgid:
            problems.append(f"new line in {msgid!r}")
        extra_tags = set(HTML_TAG.findall(msgstr)) - set(HTML_TAG.findall(msgid))
        if extra_tags:
            problems.append(f"HTML {sorted(extra_tags)} in {msgid!r}")
    assert not problems, f"{tag}: {problems}"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_compiled_catalog_serves_the_translations(tag: str) -> None:
    catalog = translations(tag)
    for msgid, msgstr in entries(catalog_path(tag)).items():
        assert catalog.gettext(msgid) == msgstr, (tag, msgid)


def test_all_catalogs_have_the_same_messages() -> None:
    ids = {tag: msgids(catalog_path(tag)) for tag in TRANSLATED}
    everything = set().union(*ids.values()) | msgids(POT)
    lacking = {
        tag: sorted(everything - have)[:3] for tag, have in ids.items() if have != everything
    }
    assert not lacking, f"catalogs lacking messages other catalogs have: {lacking}"
    stale = {tag: sorted(have - msgids(POT))[:3] for tag, have in ids.items() if have - msgids(POT)}
    assert not stale, f"catalogs with messages no longer in messages.pot: {stale}"


def extract_command(output: Path) -> list[str]:
    """Babel's extractor: the module of this interpreter, else the pybabel script."""
    args = ["extract", "-F", "babel.cfg", "-k", "N_", "--no-location", "-o", str(output), "."]
    if importlib.util.find_spec("babel.messages.frontend") is not None:
        return [sys.executable, "-m", "babel.messages.frontend", *args]
    pybabel = shutil.which("pybabel")
    assert pybabel, "Babel is not installed: pip install -e '.[test]'"
    return [pybabel, *args]


def test_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    extracted = tmp_path / "messages.pot"
    done = subprocess.run(
        extract_command(extracted),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = msgids(extracted)
    committed = msgids(POT)
    assert "Forgot your password?" in fresh  # the extraction saw the templates
    assert "The two passwords do not match." in fresh  # ... and the N_() in the code
    new = sorted(fresh - committed)
    gone = sorted(committed - fresh)
    assert not new and not gone, f"{UPDATE_HINT}\n  new in the sources: {new}\n  gone: {gone}"
