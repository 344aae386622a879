"""Packaging the Keycloak login theme as a JAR, in Python (no Maven needed).

The JAR holds ``META-INF/keycloak-themes.json`` and ``theme/<name>/login/…``:
Keycloak's layout for theme archives in its ``providers/`` directory. Two themes: one
for Keycloak 26 (themes/keycloak/) and one for 24 and 25 (themes/keycloak-24/), whose
layout lacks the field macros (keycloak_versions.py); `setup-realm` picks the one the
server can render. The
theme's own messages are generated from this product's catalogs, so the links
on Keycloak's page say exactly what the companion's pages say, in every
shipped language.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from keycloak_pwreset.i18n import SHIPPED_LOCALES, translations
from keycloak_pwreset.keycloak_versions import THEME, THEME_BEFORE_26
from keycloak_pwreset.paths import themes_dir

THEME_NAME = THEME
# Each theme of the JAR, and the folder of themes/ it comes from.
SOURCES = {THEME: "keycloak", THEME_BEFORE_26: "keycloak-24"}
JAR_NAME = f"{THEME_NAME}-theme.jar"
# Theme message key -> catalog msgid.
MESSAGES = {
    "pwresetForgotPassword": "Forgot your password?",
    "pwresetRegister": "Create your account",
}
# Keycloak names some bundles differently from the language tag it offers.
EXTRA_BUNDLE_NAMES = {"zh-CN": ["zh_Hans"]}
FIXED_DATE = (2026, 1, 1, 0, 0, 0)  # reproducible archives: same input, same bytes


def properties_escape(text: str) -> str:
    """A Java .properties value: ASCII only (\\uXXXX), and apostrophes doubled for MessageFormat."""
    text = text.replace("\\", "\\\\").replace("'", "''")
    return "".join(ch if 32 <= ord(ch) < 127 else f"\\u{ord(ch):04x}" for ch in text)


def message_bundles() -> dict[str, str]:
    """``messages/messages_<tag>.properties`` file name -> content, for every shipped language."""
    bundles = {}
    for tag in SHIPPED_LOCALES:
        catalog = translations(tag)
        lines = [
            f"{key}={properties_escape(catalog.gettext(msgid))}" for key, msgid in MESSAGES.items()
        ]
        content = "# Generated from keycloak-pwreset's catalogs.\n" + "\n".join(lines) + "\n"
        for name in [tag.replace("-", "_"), *EXTRA_BUNDLE_NAMES.get(tag, [])]:
            bundles[f"messages/messages_{name}.properties"] = content
    return bundles


def theme_files(
    public_url: str | None = None, signup: bool = True, theme: str = THEME
) -> dict[str, bytes]:
    """Every file of a login theme, relative to ``theme/<name>/login/``."""
    source = themes_dir() / SOURCES[theme] / "login"
    files = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted(source.rglob("*"))
        if path.is_file()
    }
    properties = files["theme.properties"].decode("utf-8")
    if public_url is not None:
        properties = _set_property(properties, "pwresetUrl", public_url.rstrip("/"))
    properties = _set_property(properties, "pwresetSignup", "true" if signup else "false")
    properties += "locales=" + ",".join(SHIPPED_LOCALES) + "\n"
    files["theme.properties"] = properties.encode("utf-8")
    files.update({name: text.encode("ascii") for name, text in message_bundles().items()})
    return files


def build_theme_jar(out_dir: Path, public_url: str | None = None, signup: bool = True) -> Path:
    """Write the theme JAR into ``out_dir``; return its path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as jar:
        descriptor = {"themes": [{"name": name, "types": ["login"]} for name in SOURCES]}
        _add(jar, "META-INF/keycloak-themes.json", json.dumps(descriptor, indent=2).encode())
        for theme in SOURCES:
            for name, data in theme_files(public_url, signup, theme).items():
                _add(jar, f"theme/{theme}/login/{name}", data)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / JAR_NAME
    target.write_bytes(buffer.getvalue())
    return target


def _add(jar: zipfile.ZipFile, name: str, data: bytes) -> None:
    jar.writestr(zipfile.ZipInfo(name, date_time=FIXED_DATE), data)


def _set_property(properties: str, key: str, value: str) -> str:
    lines = [
        f"{key}={value}" if line.startswith(f"{key}=") else line for line in properties.splitlines()
    ]
    return "\n".join(lines) + "\n"
