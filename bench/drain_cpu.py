"""CPU seconds of the drain's processes, read from /proc (Linux): where a job's CPU goes.

On two cores the drain is bound by the CPU that Keycloak and the service share, so the bench
reports each one's CPU per job, and the part of Keycloak's that is its JIT compiler (a fresh
JVM compiles for minutes; a site's Keycloak has long since finished).
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat: str) -> float:
    """utime + stime of one /proc stat line (a process's includes its ended threads)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (name, parent pid, CPU seconds) of every process now."""
    found: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        found[int(entry.name)] = (name, parent, _cpu_seconds(stat))
    return found


def _descends(pid: int, root: int, processes: dict[int, tuple[str, int, float]]) -> bool:
    while pid > 1:
        if pid == root:
            return True
        pid = processes[pid][1] if pid in processes else 1
    return False


def jvm_of(root: int | None) -> int | None:
    """The JVM (a process named java) that ``root`` (kc.sh) started, if any."""
    processes = _processes()
    for pid, (name, _, _) in processes.items():
        if name == "java" and root is not None and _descends(pid, root, processes):
            return pid
    return None


def tree_cpu(root: int | None) -> float:
    """CPU seconds so far of ``root`` and the processes under it (the service and its worker)."""
    if root is None:
        return 0.0
    processes = _processes()
    return sum(cpu for pid, (_, _, cpu) in processes.items() if _descends(pid, root, processes))


def jvm_cpu(pid: int | None) -> tuple[float, float]:
    """(all threads, JIT compiler threads) CPU seconds of the JVM ``pid`` so far."""
    if pid is None:
        return 0.0, 0.0
    total = _cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    compiling = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        if "CompilerThre" in stat[: stat.rindex(")")]:
            compiling += _cpu_seconds(stat)
    return total, compiling
