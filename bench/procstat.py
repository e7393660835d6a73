"""CPU seconds of a process from Linux /proc, for the benches' per-process figures."""

from __future__ import annotations

import os


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """User + system CPU of a process and (by default) its descendants."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except (OSError, ValueError, IndexError):
        return total
    return total + (sum(cpu_seconds(c) for c in children) if descendants else 0.0)
