"""Prepare, once per cached distribution, what makes later Keycloak starts fast.

Measured on a 2-core machine with other work running (Keycloak 26.7.3, Java 21; seconds from
launch until ``/realms/master`` answers 200, each run with its own fresh data directory):

- ``kc.sh start-dev``: 17.0 to 18.8, and 24.0 to 24.7 with a second Keycloak idling beside it
  (start-dev redoes the Quarkus build, about 20 s of CPU, on every start);
- ``kc.sh build --db=dev-file`` once (23 to 25 s), then ``start --optimized``: 17.3 to 22.1,
  most of it creating the schema and the master realm in the empty database;
- the same, but from a copy of a database Keycloak already initialised, including the admin
  swap below: 10.9 to 13.5.

Hence the preparation: an optimized build plus a database template, cached beside the
distribution (first run: about 50 s more, once). Keycloak creates its bootstrap admin only in a
new database, so the template's admin (random password, recorded here) is swapped for the
caller's after start-up. Not used: ``-XX:TieredStopAtLevel=1`` starts 2-3 s faster but makes
every password hash and realm set-up slower, which tests do a lot; health checks, which would
listen on the fixed management port 9000 and so clash between parallel runs.
"""

import hashlib
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from keycloak_pwreset.keycloak_versions import bootstrap_admin_env, cache_is_built_in
from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.keycloak_home import make_run_home
from keycloak_pwreset_demo.keycloak_process import (
    child_environment,
    launch,
    run_command,
    terminate,
    wait_ready,
)
from keycloak_pwreset_demo.locking import file_lock
from keycloak_pwreset_demo.ports import LOOPBACK, free_port

# Bump when the build options or the template change, so old caches are not reused.
_FORMAT = 2
BUILD_OPTIONS = ("--db=dev-file",)
# `--cache=local`: production mode would otherwise form a JGroups cluster, listening on all
# interfaces (ports 7800 and 57800). A build option in Keycloak 24, a runtime one since.
CACHE = "--cache=local"
# Runtime options every start needs with this build.
RUNTIME_OPTIONS = (
    "start",
    "--optimized",
    "--http-enabled=true",
    "--hostname-strict=false",
    f"--http-host={LOOPBACK}",
)


def build_options(dist: Path) -> list[str]:
    cache = [CACHE] if cache_is_built_in(dist_version(dist)) else []
    return [*BUILD_OPTIONS, *cache]


def runtime_options(dist: Path) -> list[str]:
    cache = [] if cache_is_built_in(dist_version(dist)) else [CACHE]
    return [*RUNTIME_OPTIONS, *cache]


_TEMPLATE_ADMIN = "admin"
_BUILD_TIMEOUT_SECONDS = 600.0
_FIRST_START_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Prepared:
    """An optimized ``lib/quarkus`` build and a database template with a known admin."""

    quarkus_dir: Path
    data_dir: Path
    admin_user: str
    admin_password: str


def dist_version(dist: Path) -> str:
    """The version a distribution says it is ("Keycloak - Version 24.0.5" in version.txt)."""
    stamp = dist / "version.txt"
    return stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else dist.name


def prepared_dir(dist: Path, providers: tuple[Path, ...] = ()) -> Path:
    """Where the preparation for distribution ``dist`` with these provider JARs is cached.

    An optimized Keycloak refuses to start when its provider JARs differ from
    the ones it was built with, so each set of JARs (by content) has its own build.
    """
    suffix = ""
    if providers:
        digest = hashlib.sha256()
        for jar in sorted(providers, key=lambda p: p.name):
            digest.update(jar.name.encode() + b"\0" + jar.read_bytes())
        suffix = "-" + digest.hexdigest()[:12]
    return dist.with_name(f"{dist.name}-prepared-v{_FORMAT}{suffix}")


def ensure_prepared(
    dist: Path,
    *,
    java_home: Path,
    providers: tuple[Path, ...] = (),
    progress: Callable[[str], None] = print,
) -> Prepared:
    """Return the preparation for ``dist``, making it first if needed (about a minute, once)."""
    target = prepared_dir(dist, providers)
    if (target / "admin.json").is_file():
        return _load(target)
    log_dir = dist.with_name(f"{dist.name}-prepare-logs")
    lock = dist.with_name(f".{dist.name}-prepare.lock")
    with file_lock(lock, lambda: progress("Waiting for another run that is preparing Keycloak…")):
        if (target / "admin.json").is_file():  # made by another process while we waited
            return _load(target)
        for leftover in dist.parent.glob(f".preparing-{dist.name}-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        if target.exists():
            shutil.rmtree(target)
        with tempfile.TemporaryDirectory(prefix=f".preparing-{dist.name}-", dir=dist.parent) as tmp:
            out = _prepare(dist, Path(tmp), java_home, providers, log_dir, progress)
            out.rename(target)  # atomic: complete or absent
    return _load(target)


def _prepare(
    dist: Path,
    tmp: Path,
    java_home: Path,
    providers: tuple[Path, ...],
    log_dir: Path,
    progress: Callable[[str], None],
) -> Path:
    home = make_run_home(
        dist, tmp / "home", quarkus_from=dist / "lib" / "quarkus", providers=providers
    )
    password = secrets.token_urlsafe(24)
    env = child_environment(
        java_home, bootstrap_admin_env(dist_version(dist), _TEMPLATE_ADMIN, password)
    )
    _build(home, env, log_dir / "build.log", progress, build_options(dist))
    start_log = log_dir / "first-start.log"
    _first_start(home, env, start_log, progress, runtime_options(dist))
    return _save_template(home, tmp / "prepared", password, start_log)


def _build(
    home: Path,
    env: Mapping[str, str],
    build_log: Path,
    progress: Callable[[str], None],
    options: list[str],
) -> None:
    """``kc.sh build`` in ``home``: the optimized ``lib/quarkus`` every later start uses."""
    progress("Building an optimized Keycloak (once, about 30 s)…")
    build_log.unlink(missing_ok=True)
    run_command(
        home,
        ["build", *options],
        env=env,
        log_path=build_log,
        timeout=_BUILD_TIMEOUT_SECONDS,
    )


def _first_start(
    home: Path,
    env: Mapping[str, str],
    start_log: Path,
    progress: Callable[[str], None],
    options: list[str],
) -> None:
    """Start and stop Keycloak once, so that it creates its database and the master realm."""
    progress("Creating the initial Keycloak database (once, about 30 s)…")
    start_log.unlink(missing_ok=True)
    port = free_port()
    proc = launch(home, [*options, f"--http-port={port}"], env=env, log_path=start_log)
    try:
        wait_ready(
            proc,
            f"http://{LOOPBACK}:{port}",
            timeout=_FIRST_START_TIMEOUT_SECONDS,
            log_path=start_log,
            progress=progress,
        )
    finally:
        terminate(proc)  # a clean shutdown leaves a consistent H2 file to copy


def _save_template(home: Path, out: Path, password: str, start_log: Path) -> Path:
    """Copy the build, the database and its admin's credentials from ``home`` to ``out``."""
    database = home / "data" / "h2" / "keycloakdb.mv.db"
    if not database.is_file():
        raise DemoError(f"Keycloak created no database at {database}; see {start_log}")
    (out / "data" / "h2").mkdir(parents=True)
    shutil.copy2(database, out / "data" / "h2" / database.name)
    shutil.copytree(home / "lib" / "quarkus", out / "quarkus")
    admin = {"username": _TEMPLATE_ADMIN, "password": password}
    (out / "admin.json").write_text(json.dumps(admin), encoding="utf-8")
    (out / "admin.json").chmod(0o600)
    return out


def _load(target: Path) -> Prepared:
    admin = json.loads((target / "admin.json").read_text(encoding="utf-8"))
    return Prepared(
        quarkus_dir=target / "quarkus",
        data_dir=target / "data",
        admin_user=str(admin["username"]),
        admin_password=str(admin["password"]),
    )
