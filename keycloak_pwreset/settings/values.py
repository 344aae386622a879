"""Validators and names every settings module shares."""

from __future__ import annotations

from urllib.parse import urlsplit

ENV_PREFIX = "KCPR_"
CONFIG_FILE_VAR = "KCPR_CONFIG_FILE"


def hyphenate_keys(value: object) -> object:
    if isinstance(value, dict):
        return {str(key).replace("_", "-"): item for key, item in value.items()}
    return value


def plain_address(value: str | None) -> str | None:
    if value is not None and not looks_like_address(value):
        raise ValueError("must be a plain email address like name@example.org")
    return value


def single_line(value: str | None) -> str | None:
    if value is not None and any(ch in value for ch in "\r\n\0"):
        raise ValueError("must be a single line")
    return value


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return value.rstrip("/")


def looks_like_address(value: str) -> bool:
    local, sep, domain = value.rpartition("@")
    return bool(sep and local and "." in domain) and not any(
        ch in value for ch in " \t\r\n\0<>,;\"'"
    )
