"""`theme build`: the login theme JAR for Keycloak's providers/ directory."""

from __future__ import annotations

from pathlib import Path

from keycloak_pwreset.operator.theme_jar import build_theme_jar


def run_theme_build(out: Path, public_url: str | None, signup: bool) -> int:
    jar = build_theme_jar(out, public_url, signup)
    where = public_url or "KCPR_PUBLIC_URL from Keycloak's environment"
    print(f"wrote {jar} (links lead to {where})")
    print("Copy it into Keycloak's providers/ directory, run `kc.sh build` (or start-dev),")
    print("then choose the login theme 'keycloak-pwreset' (keycloak-pwreset setup-realm does).")
    return 0
