"""Which process a pid names: telling a process apart from a later one that reuses its pid.

The host's start time (/proc/PID/stat field 22) counts clock ticks (10 ms), so a process that
dies and whose pid is taken again within one tick looks the same by it.  A pidfd names the
process itself: its fdinfo shows the pid while the process (or its zombie) exists and -1 once it
has been reaped, whatever now holds the number.  A pidfd is held per record when the host gives
one; the start time is the fallback (pidfd_open refused: no descriptors left, an old kernel).
"""

from __future__ import annotations

import os
import weakref


def start_time(pid: int) -> int | None:
    """The host's start time of process `pid` (clock ticks after boot), None when there is no
    such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
        return int(s[s.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


class Identity:
    """The process `pid` names now, remembered.  `same()` says whether the pid still names it
    (a zombie still does).  The pidfd is closed when the identity is collected."""

    __slots__ = ("pid", "start", "pidfd", "__weakref__")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = -1
        try:
            self.pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            pass  # the start time alone decides
        else:
            weakref.finalize(self, _close, self.pidfd)
        self.start = start_time(pid) or 0

    def same(self) -> bool:
        """Whether `pid` still names the process this identity was taken of."""
        if self.pidfd >= 0:
            try:
                with open(f"/proc/self/fdinfo/{self.pidfd}", "rb") as f:
                    info = f.read()
            except OSError:
                return False
            i = info.find(b"\nPid:")
            if i >= 0:
                return int(info[i + 5:info.index(b"\n", i + 1)]) == self.pid
        now = start_time(self.pid)
        return now is not None and (not self.start or now == self.start)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
