"""Fetch and cache the Keycloak server distribution (the Maven artifact, fetched with ``mvn``).

The cached directory is never written to after it is unpacked: each server run gets its own
home that links to it (see ``keycloak_home``), so runs cannot disturb each other or the cache.
"""

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.java_runtime import find_java_home, parse_java_major
from keycloak_pwreset_demo.locking import file_lock

__all__ = [
    "KEYCLOAK_VERSION",
    "default_cache_dir",
    "ensure_distribution",
    "find_java_home",
    "parse_java_major",
]

KEYCLOAK_VERSION = "26.7.3"
_ARTIFACT = "org.keycloak:keycloak-quarkus-dist:{version}:tar.gz"
# Generous: the archive is about 180 MB and some networks are slow.
_FETCH_TIMEOUT_SECONDS = 1800


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/keycloak-pwreset``, else ``~/.cache/keycloak-pwreset``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keycloak-pwreset"


def _is_complete(home: Path) -> bool:
    # The directory only ever appears through an atomic rename of a fully unpacked tree, so
    # its presence is the completeness marker; kc.sh is checked against manual tampering.
    return (home / "bin" / "kc.sh").is_file()


def ensure_distribution(
    version: str = KEYCLOAK_VERSION,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Path:
    """Return the Keycloak home directory (with ``bin/kc.sh``), fetching it once if needed."""
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    home = cache / f"keycloak-{version}"
    if _is_complete(home):
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DemoError(
            "Maven (mvn) is needed to fetch Keycloak; install it, e.g. `apt-get install maven`"
        )
    lock = cache / f".keycloak-{version}.lock"
    with file_lock(lock, lambda: progress("Waiting for another run that is fetching Keycloak…")):
        if _is_complete(home):  # another process fetched it while we waited for the lock
            return home
        _remove_leftovers(cache, version, home)
        with tempfile.TemporaryDirectory(prefix=f".fetching-keycloak-{version}-", dir=cache) as tmp:
            progress(f"Fetching Keycloak {version} with Maven (about 180 MB, once)…")
            archive = _fetch(mvn, version, Path(tmp), cache)
            progress("Unpacking…")
            unpacked = _extract(archive, Path(tmp) / "unpacked", version)
            # Atomic on one file system: a killed run leaves only a hidden temporary
            # directory (removed next time), never a half tree under the final name.
            unpacked.rename(home)
    progress(f"Cached at {home}")
    return home


def _remove_leftovers(cache: Path, version: str, home: Path) -> None:
    """Delete temporary trees of killed runs (safe: we hold the lock) and a damaged home."""
    for leftover in cache.glob(f".fetching-keycloak-{version}-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    if home.exists():
        shutil.rmtree(home)


def _fetch(mvn: str, version: str, dest: Path, cache: Path) -> Path:
    """Download the distribution archive into ``dest`` with ``mvn dependency:copy``."""
    log = dest / "mvn.log"
    command = [
        mvn,
        "-B",
        "-q",
        "dependency:copy",
        f"-Dartifact={_ARTIFACT.format(version=version)}",
        f"-DoutputDirectory={dest}",
    ]
    try:
        with log.open("wb") as out:
            # cwd=dest: Maven must not pick up a pom.xml from wherever the user stands.
            done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                command,
                cwd=dest,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=_FETCH_TIMEOUT_SECONDS,
                check=False,
            )
    except subprocess.TimeoutExpired as exc:
        raise DemoError(f"Maven did not fetch Keycloak {version} within 30 minutes") from exc
    archive = dest / f"keycloak-quarkus-dist-{version}.tar.gz"
    if done.returncode != 0 or not archive.is_file():
        kept = cache / f"fetch-keycloak-{version}.log"
        shutil.copyfile(log, kept)
        raise DemoError(
            f"Maven could not fetch Keycloak {version} (exit {done.returncode}); see {kept}"
        )
    return archive


def _extract(archive: Path, dest: Path, version: str) -> Path:
    """Unpack ``archive`` into ``dest`` safely and return the ``keycloak-<version>`` tree."""
    if not hasattr(tarfile, "data_filter"):
        raise DemoError("Unpacking Keycloak safely needs Python 3.11.4 or newer")
    top = f"keycloak-{version}"
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            # Belt and braces beside the "data" filter: everything under one top directory.
            if not parts or parts[0] != top or ".." in parts or member.name.startswith("/"):
                raise DemoError(f"Unexpected path {member.name!r} in {archive.name}; not unpacked")
        # The "data" filter refuses absolute paths, links leaving the tree and device files,
        # and drops set-uid bits and foreign ownership.
        tar.extractall(dest, filter="data")
    unpacked = dest / top
    if not _is_complete(unpacked):
        raise DemoError(f"{archive.name} does not contain {top}/bin/kc.sh")
    return unpacked
