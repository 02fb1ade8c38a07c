"""A wait status as strace prints it in wait4's `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`."""

from __future__ import annotations

from .names import signame

__all__ = ["format_status"]


def format_status(s: int) -> str:
    """The text inside the brackets strace prints for an int wait status."""
    if s & 0x7F == 0x7F and s & 0xFF != 0xFF or (s & 0xFF) == 0x7F:  # stopped
        sig, event = (s >> 8) & 0xFF, s >> 16
        text = f"{{WIFSTOPPED(s) && WSTOPSIG(s) == {signame(sig & 0x7F) if sig < 0x80 else signame(sig & 0x7F) + '|0x80'}}}"
        if event:
            text += f" | PTRACE_EVENT_{_EVENTS.get(event, str(event))} << 16"
        return text
    if s == 0xFFFF:
        return "{WIFCONTINUED(s)}"
    if s & 0x7F == 0:
        return f"{{WIFEXITED(s) && WEXITSTATUS(s) == {(s >> 8) & 0xFF}}}"
    core = " && WCOREDUMP(s)" if s & 0x80 else ""
    return f"{{WIFSIGNALED(s) && WTERMSIG(s) == {signame(s & 0x7F)}{core}}}"


_EVENTS = {1: "FORK", 2: "VFORK", 3: "CLONE", 4: "EXEC", 5: "VFORK_DONE", 6: "EXIT", 7: "SECCOMP",
           128: "STOP"}
