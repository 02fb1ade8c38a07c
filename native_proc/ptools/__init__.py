"""The illumos proc tools over native_proc: `native-proc pflags PID ...` and the rest.

Each tool follows its illumos manual page and the output of illumos-gate usr/src/cmd/ptools;
every file it reads goes through native_proc.client (procd decides access), never the host's
/proc directly.  `TOOLS` maps a tool's name to its `main(argv, out, err) -> exit status`.
"""

from __future__ import annotations

from typing import Callable, TextIO

from . import pflags, pmap, simple

__all__ = ["TOOLS"]

Main = Callable[[list[str], TextIO, TextIO], int]

TOOLS: dict[str, Main] = {
    "pflags": pflags.main,
    "pmap": pmap.main,
    "pcred": simple.pcred,
    "psig": simple.psig,
    "pwdx": simple.pwdx,
    "pstop": simple.pstop,
    "prun": simple.prun,
    "pwait": simple.pwait,
    "pargs": simple.pargs,
    "penv": simple.penv,
    "pfiles": simple.pfiles,
    "ptime": simple.ptime,
}
