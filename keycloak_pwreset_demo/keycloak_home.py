"""Give each Keycloak run its own home directory that borrows the cached distribution.

Keycloak writes into its home: ``kc.sh build`` and ``start-dev`` rewrite ``lib/quarkus/``, and
the dev-file database, transaction logs and temporary files live in ``data/`` (the H2 URL is
``${kc.home.dir}/data/h2/keycloakdb``; ``--db-url`` could move the database alone, not the rest).
Running from the cache directly would let runs share state and race on those files, and would
change the cache. So a run home holds real copies of the few small writable parts (``bin/kc.sh``,
``conf/``, ``lib/quarkus/``, ``data/``) and symbolic links to the large read-only parts
(``lib/lib``, ``lib/app``, ``themes``, ``providers``), about 4 MB in all.

This works because ``kc.sh`` sets ``kc.home.dir`` from its own (resolved) location, which is the
copy in the run home, and Quarkus finds its jars relative to that home.
"""

import os
import shutil
from pathlib import Path

_LINKED = ("lib/lib", "lib/app", "themes")
PROVIDER_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z
_COPIED_FILES = ("bin/kc.sh", "lib/quarkus-run.jar", "version.txt")


def make_run_home(
    dist: Path,
    run_home: Path,
    *,
    quarkus_from: Path,
    data_from: Path | None = None,
    providers: tuple[Path, ...] = (),
) -> Path:
    """Create ``run_home`` for the distribution ``dist`` and return it.

    ``quarkus_from`` is the ``lib/quarkus`` build output to start from (the distribution's own, or
    one made by ``kc.sh build``); ``data_from`` an optional ``data/`` to copy (a database
    template). ``run_home`` must not exist yet: a run never reuses another run's state.
    """
    run_home.mkdir(parents=True)
    for relative in _COPIED_FILES:
        source = dist / relative
        if source.exists():
            (run_home / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, run_home / relative)  # copy2 keeps kc.sh executable
    shutil.copytree(dist / "conf", run_home / "conf")
    for relative in _LINKED:
        link = run_home / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to((dist / relative).resolve(), target_is_directory=True)
    # providers/ is the run's own: the distribution's (normally just a README)
    # plus this run's extension JARs, such as the login theme.
    shutil.copytree(dist / "providers", run_home / "providers")
    for jar in providers:
        copy = run_home / "providers" / jar.name
        shutil.copyfile(jar, copy)
        # An optimized Keycloak compares provider JAR timestamps with the ones
        # it was built with: a fixed one makes equal content look unchanged.
        os.utime(copy, (PROVIDER_MTIME, PROVIDER_MTIME))
    shutil.copytree(quarkus_from, run_home / "lib" / "quarkus")
    if data_from is not None:
        shutil.copytree(data_from, run_home / "data")
    else:
        (run_home / "data").mkdir()
    return run_home
