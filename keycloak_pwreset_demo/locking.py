"""An exclusive inter-process lock on a file (POSIX ``fcntl``)."""

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Two test runs or demos sharing one cache then fetch or build Keycloak once: the second
    waits here and finds the result ready. The kernel drops the lock if the holder dies, so a
    killed run never leaves a stale lock behind. ``on_wait`` is called once if another
    process holds the lock, so the waiting side can say why it is quiet.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
