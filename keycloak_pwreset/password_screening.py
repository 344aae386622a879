"""NIST SP 800-63B screening: refuse common, guessable or personal passwords, and say why.

The standard asks a verifier to compare a new password against values known to be
commonly used, expected or compromised, and to tell the person why one is refused.
Done before Keycloak is asked, with zxcvbn (the Python port of Dropbox's estimator,
which ships its own frequency lists of common passwords, names and words, and finds
keyboard patterns, sequences, repeats and dates): a password whose estimated
strength is below ``min_score`` is refused with one of a few reasons. The person's
own words (username, the email's local part, names) and the site's (the realm's name
and display name) are given to it, so "alice1987" is weak for Alice. Optionally, the
breached-password range API is asked as well (keycloak_pwreset/pwned.py).

Passphrases of a few unrelated words score high and pass; so does anything Keycloak's
own policy would then judge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from zxcvbn import zxcvbn

from keycloak_pwreset.i18n import N_

# zxcvbn refuses longer inputs (its matching is quadratic); a password this long is
# screened by its first MAX_SCREENED characters.
MAX_SCREENED = 72
# The reason codes the API returns beside password_too_common, and their words.
REASONS: dict[str, str] = {
    "common": N_("It is a commonly used password, or very close to one."),
    "personal": N_("It contains your name, username or email address, or the site's name."),
    "pattern": N_(
        "It follows an easily guessed pattern: a keyboard row, a sequence, repeated "
        "characters or a date."
    ),
    "guessable": N_("It is too easy to guess. A few unrelated words make a strong password."),
    "breached": N_("It has appeared in a data breach, so attackers try it first."),
}
PATTERNS = {"spatial", "sequence", "repeat", "date", "regex"}


def words_of(*texts: str) -> list[str]:
    """Context words: each text whole, and its parts (an email's local part, a name's words)."""
    found: list[str] = []
    for text in texts:
        text = text.strip().lower()
        if not text:
            continue
        local = text.split("@", 1)[0]
        found += [text, local, *re.split(r"[^\w]+", local)]
    return sorted({w for w in found if len(w) >= 3})


def _reason(result: dict[str, Any]) -> str:
    matches = result.get("sequence") or []
    if any(m.get("dictionary_name") == "user_inputs" for m in matches):
        return "personal"
    if any(
        m.get("pattern") == "dictionary" and m.get("dictionary_name") == "passwords"
        for m in matches
    ):
        return "common"
    if any(m.get("pattern") in PATTERNS for m in matches):
        return "pattern"
    if any(m.get("pattern") == "dictionary" for m in matches):
        return "common"
    return "guessable"


class Screening:
    def __init__(
        self,
        min_score: int,
        site_words: Iterable[str] = (),
        breached: Callable[[str], bool] | None = None,
    ) -> None:
        self._min_score = min_score
        self._site_words = list(site_words)
        self._breached = breached

    def reason(self, password: str, personal: Iterable[str] = ()) -> str | None:
        """Why the password is refused (a REASONS key), or None if it passes."""
        inputs = [*self._site_words, *personal]
        result = zxcvbn(password[:MAX_SCREENED], user_inputs=inputs)
        if int(result["score"]) < self._min_score:
            return _reason(result)
        if self._breached is not None and self._breached(password):
            return "breached"
        return None
