"""Fetching and caching the Keycloak distribution, with a fake `mvn` on PATH."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from pathlib import Path

import pytest

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.keycloak_dist import default_cache_dir, ensure_distribution
from keycloak_pwreset_demo.locking import file_lock

VERSION = "99.0.0"

# Copies the archive named in $FAKE_TARBALL to -DoutputDirectory, as `dependency:copy` does,
# and records each call; exits 1 when $FAKE_TARBALL is empty.
FAKE_MVN = """#!/bin/sh
echo "$@" >> "$FAKE_MVN_CALLS"
[ -n "$FAKE_TARBALL" ] || { echo "[ERROR] Could not resolve artifact"; exit 1; }
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) dest="${arg#-DoutputDirectory=}";; esac
done
cp "$FAKE_TARBALL" "$dest/keycloak-quarkus-dist-99.0.0.tar.gz"
"""


def make_tarball(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            data = b"#!/bin/sh\n" if name.endswith(".sh") else b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN)
    mvn.chmod(0o755)
    calls = tmp_path / "mvn-calls.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_MVN_CALLS", str(calls))
    return calls


def test_fetches_once_then_uses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mvn: Path
) -> None:
    tarball = make_tarball(
        tmp_path / "dist.tar.gz",
        [f"keycloak-{VERSION}/bin/kc.sh", f"keycloak-{VERSION}/lib/quarkus-run.jar"],
    )
    monkeypatch.setenv("FAKE_TARBALL", str(tarball))
    lines: list[str] = []
    home = ensure_distribution(VERSION, tmp_path / "cache", progress=lines.append)
    assert home == tmp_path / "cache" / f"keycloak-{VERSION}"
    assert (home / "bin" / "kc.sh").stat().st_mode & 0o100  # still executable
    assert lines[0] == f"Fetching Keycloak {VERSION} with Maven (about 180 MB, once)…"
    assert lines[-1] == f"Cached at {home}"
    assert f"org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz" in fake_mvn.read_text()
    # No temporary directories are left beside the cached tree.
    assert sorted(p.name for p in home.parent.iterdir() if p.is_dir()) == [home.name]

    assert ensure_distribution(VERSION, tmp_path / "cache", progress=lines.append) == home
    assert len(fake_mvn.read_text().splitlines()) == 1


def test_maven_failure_is_one_line_with_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mvn: Path
) -> None:
    monkeypatch.setenv("FAKE_TARBALL", "")
    with pytest.raises(DemoError, match=r"Maven could not fetch Keycloak 99.0.0 \(exit 1\)") as e:
        ensure_distribution(VERSION, tmp_path / "cache", progress=lambda _: None)
    log = Path(str(e.value).rsplit("see ", 1)[1])
    assert "Could not resolve artifact" in log.read_text()
    assert not (tmp_path / "cache" / f"keycloak-{VERSION}").exists()


@pytest.mark.parametrize(
    "evil", [f"keycloak-{VERSION}/../escaped.txt", "/etc/absolute.txt", "other-top/file"]
)
def test_refuses_archives_with_paths_outside_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mvn: Path, evil: str
) -> None:
    tarball = make_tarball(tmp_path / "evil.tar.gz", [f"keycloak-{VERSION}/bin/kc.sh", evil])
    monkeypatch.setenv("FAKE_TARBALL", str(tarball))
    with pytest.raises(DemoError, match="Unexpected path"):
        ensure_distribution(VERSION, tmp_path / "cache", progress=lambda _: None)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "cache" / f"keycloak-{VERSION}").exists()


def test_missing_maven_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DemoError, match=r"Maven \(mvn\) is needed to fetch Keycloak; install it"):
        ensure_distribution(VERSION, tmp_path / "cache")


def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "keycloak-pwreset"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "keycloak-pwreset"


def test_file_lock_waits_for_the_holder_and_says_so(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    events: list[str] = []
    with file_lock(lock):
        waiter = threading.Thread(target=lambda: _take(lock, events), daemon=True)
        waiter.start()
        deadline = time.monotonic() + 5
        while "waiting" not in events:
            assert time.monotonic() < deadline, "the second taker never waited"
            time.sleep(0.01)
        events.append("released")
    waiter.join(5)
    assert events == ["waiting", "released", "acquired"]


def _take(lock: Path, events: list[str]) -> None:
    with file_lock(lock, on_wait=lambda: events.append("waiting")):
        events.append("acquired")
