"""native_proc: a Solaris-style /proc engine over real Linux processes.

The top level is the client library (the engine itself runs in procd, a server every client of a
process tree shares):

* `open(path, flags)` opens a /proc file (`"<pid>/ctl"`, `"<pid>/status"`,
  `"<pid>/lwp/<lwpid>/lwpstatus"`, `"<pid>/as"` ...) and returns a `ProcFile`, a real descriptor
  that survives fork; write ctl messages built by `structs.ctl.encode_ctl` to a ctl file.
* `listdir(path)` lists a /proc directory (`""` for the pids, `"<pid>/lwp"` ...).
* `waitid(idtype, id, options)` is Solaris's waitid for the caller's children, /proc stops of
  PR_PTRACE children included (CLD_TRAPPED); it returns a Solaris siginfo_t.
* `ensure_procd()` joins or starts procd (before forking children that must share it).

Errors are Python exceptions, never return codes: a refused request raises `OSError` with the
Solaris errno procd answered (e.g. `ENOENT` for a process that is gone, `EBUSY`), `waitid` raises
`ChildProcessError` (ECHILD) and `TimeoutError`, and `ProcdError` means procd could not be
reached or started.  (lxbrand's `lx_ptrace` above it returns `-errno` instead, as the raw Linux
system call does: see docs/api.md.)
"""

from __future__ import annotations

from typing import Any

import structs as _structs

if getattr(_structs, "LXBRAND_STRUCTS", None) != 1:
    # Another distribution's top-level `structs` is first on sys.path: the layouts below would
    # be someone else's.  Say so instead of failing later with an unrelated AttributeError.
    raise ImportError(
        f"native_proc needs lxbrand's own `structs` package, but `import structs` found "
        f"{getattr(_structs, '__file__', None) or _structs!r}, another distribution's: uninstall "
        f"it (pip uninstall structs) or put lxbrand first on sys.path")

__all__ = ["open", "listdir", "waitid", "ensure_procd", "procd_status", "shutdown", "ProcFile",
           "ProcdError", "ENV", "__version__"]

def _dist_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("lxbrand")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: run from a checkout without pip install)"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _dist_version()
    # The client is imported on first use: `import native_proc.host` (or procd itself) must not
    # pay for the client's socket machinery, and the client imports submodules of this package.
    if name in __all__:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'native_proc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
