"""Per-run Keycloak homes and the kc.sh process helpers (no Java needed)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.keycloak_home import PROVIDER_MTIME, make_run_home
from keycloak_pwreset_demo.keycloak_process import (
    child_environment,
    failure_summary,
    launch,
    run_command,
    terminate,
    wait_ready,
)


def fake_dist(root: Path) -> Path:
    for relative in (
        "lib/lib/main/a.jar",
        "lib/app/keycloak.jar",
        "themes/base/x.ftl",
        "providers/README.md",
        "conf/keycloak.conf",
        "lib/quarkus/app.dat",
        "lib/quarkus-run.jar",
        "version.txt",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    kc = root / "bin" / "kc.sh"
    kc.parent.mkdir(parents=True)
    kc.write_text("#!/bin/sh\n")
    kc.chmod(0o755)
    return root


def test_run_home_copies_writable_parts_and_links_the_rest(tmp_path: Path) -> None:
    dist = fake_dist(tmp_path / "dist")
    template = tmp_path / "template"
    (template / "h2").mkdir(parents=True)
    (template / "h2" / "keycloakdb.mv.db").write_text("db")
    home = make_run_home(
        dist, tmp_path / "run", quarkus_from=dist / "lib" / "quarkus", data_from=template
    )
    for linked in ("lib/lib", "lib/app", "themes"):
        assert (home / linked).is_symlink()
    # providers/ is the run's own, so a run can add its extension JARs.
    assert not (home / "providers").is_symlink()
    assert (home / "providers" / "README.md").is_file()
    for copied in ("bin/kc.sh", "conf/keycloak.conf", "lib/quarkus/app.dat", "lib/quarkus-run.jar"):
        assert not (home / copied).is_symlink()
        assert (home / copied).read_text() == (dist / copied).read_text()
    assert os.access(home / "bin" / "kc.sh", os.X_OK)
    assert (home / "data" / "h2" / "keycloakdb.mv.db").read_text() == "db"
    # Writing in the run home never reaches the distribution.
    (home / "lib" / "quarkus" / "app.dat").write_text("rebuilt")
    assert (dist / "lib" / "quarkus" / "app.dat").read_text() == "lib/quarkus/app.dat"


def test_child_environment_drops_the_users_keycloak_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KC_DB", "postgres")
    monkeypatch.setenv("JAVA_OPTS", "-Xmx64m")
    monkeypatch.setenv("KEEP_ME", "1")
    env = child_environment(Path("/opt/jdk"), {"KC_BOOTSTRAP_ADMIN_USERNAME": "admin"})
    assert "KC_DB" not in env
    assert "JAVA_OPTS" not in env
    assert env["KEEP_ME"] == "1"
    assert env["JAVA_HOME"] == "/opt/jdk"
    assert env["KC_BOOTSTRAP_ADMIN_USERNAME"] == "admin"


def script_home(tmp_path: Path, body: str) -> Path:
    kc = tmp_path / "home" / "bin" / "kc.sh"
    kc.parent.mkdir(parents=True)
    kc.write_text("#!/bin/sh\n" + body)
    kc.chmod(0o755)
    return tmp_path / "home"


def test_failed_command_reports_the_error_line_and_log(tmp_path: Path) -> None:
    home = script_home(tmp_path, 'echo "2026 ERROR [main] Port 8080 in use"\nexit 3\n')
    log = tmp_path / "kc.log"
    with pytest.raises(DemoError) as caught:
        run_command(home, ["build"], env=dict(os.environ), log_path=log, timeout=30)
    assert str(caught.value) == (
        f"kc.sh build failed (exit 3): 2026 ERROR [main] Port 8080 in use; see {log}"
    )


KEYCLOAK_FAILURE = """\
2026-11-21 20:30:21,272 INFO  [com.arjuna.ats.jbossatx] (main) Stopping transaction recovery
2026-11-21 20:30:21,313 ERROR [org.keycloak.Handler] (main) ERROR: Failed to start server
2026-11-21 20:30:21,314 ERROR [org.keycloak.Handler] (main) ERROR: Port already bound: 18199
2026-11-21 20:30:21,314 ERROR [org.keycloak.Handler] (main) For more details run with --verbose
"""


@pytest.mark.parametrize(
    ("log", "summary"),
    [
        (KEYCLOAK_FAILURE, "Port already bound: 18199"),
        (
            "Unknown option: '--bogus'\nTry 'kc.sh start --help' for more information.\n",
            "Unknown option: '--bogus'",
        ),
        ("INFO starting\n" * 10, ""),
    ],
)
def test_failure_summary_picks_the_telling_line(tmp_path: Path, log: str, summary: str) -> None:
    (tmp_path / "kc.log").write_text(log)
    assert failure_summary(tmp_path / "kc.log") == summary


def test_wait_ready_fails_fast_when_the_process_exits(tmp_path: Path) -> None:
    home = script_home(tmp_path, "exit 1\n")
    log = tmp_path / "kc.log"
    proc = launch(home, ["start"], env=dict(os.environ), log_path=log)
    began = time.monotonic()
    with pytest.raises(DemoError, match=f"Keycloak start-up failed \\(exit 1\\); see {log}"):
        wait_ready(proc, "http://127.0.0.1:9", timeout=60, log_path=log, progress=print)
    assert time.monotonic() - began < 10


def test_terminate_stops_the_whole_process_group(tmp_path: Path) -> None:
    # Like kc.sh: a shell that forks a long-running child and waits for it.
    home = script_home(tmp_path, "sleep 300 &\necho $! > child.pid\nwait\n")
    proc = launch(home, [], env=dict(os.environ), log_path=tmp_path / "kc.log")
    pid_file = home / "child.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    terminate(proc, grace=5)
    assert proc.returncode is not None
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, "the forked child survived"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    done = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return done.returncode == 0 and not done.stdout.strip().startswith("Z")


def test_run_home_installs_provider_jars_with_a_fixed_timestamp(tmp_path: Path) -> None:
    # An optimized Keycloak compares JAR timestamps with its build's: equal
    # content must look unchanged, whenever the JAR file was written.
    dist = fake_dist(tmp_path / "dist")
    jar = tmp_path / "theme.jar"
    jar.write_bytes(b"PK jar")
    home = make_run_home(
        dist, tmp_path / "run", quarkus_from=dist / "lib" / "quarkus", providers=(jar,)
    )
    installed = home / "providers" / "theme.jar"
    assert installed.read_bytes() == b"PK jar"
    assert installed.stat().st_mtime == PROVIDER_MTIME
    assert not (dist / "providers" / "theme.jar").exists()  # the cache stays pristine
