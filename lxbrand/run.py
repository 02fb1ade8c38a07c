"""`lxbrand run -- DEBUGGER ARGS...`: an unmodified debugger on lx_ptrace.

The debugger is executed with lxbrand's preload library (`preload.c`), which sends its ptrace
and wait calls to `lxbrand.shim` inside its own process.  The library is compiled on first use
into a per-user cache (`$XDG_CACHE_HOME/lxbrand`, else `~/.cache/lxbrand`, a directory only we
may write), named by a digest of its source and of the interpreter it runs, so a changed source
or another Python builds a new one.  Only the debugger itself gets the library: it takes itself
and its variables out of the environment before the debugger's main() runs, so the programs
the debugger starts see the environment they were given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from .tools import own_dir, own_file, require

__all__ = ["SOURCE", "RunError", "cache_dir", "build", "environment", "run"]

SOURCE = Path(__file__).with_name("preload.c")


class RunError(RuntimeError):
    """The debugger cannot be run on lx (the message says why)."""


def cache_dir() -> Path:
    """The per-user directory the compiled library lives in (created 0700, owner checked)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    Path(base).mkdir(parents=True, exist_ok=True)
    return own_dir(Path(base) / "lxbrand")


def libpython() -> str:
    """The shared Python library of the running interpreter (started inside a debugger that
    does not embed Python); RunError when this Python has none."""
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
    for d in (sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LIBPL"),
              "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"):
        if d and name and os.path.exists(os.path.join(d, name)) and name.endswith(tuple(".so" + s for s in
                                                                                    ("", ".1", ".1.0"))):
            return os.path.join(d, name)
    raise RunError(f"this Python ({sys.executable}) has no shared library (libpython{sys.version_info[0]}."
                   f"{sys.version_info[1]}.so): lxbrand run needs one (Debian: libpython3.x; pyenv: "
                   "build with --enable-shared)")


def build() -> Path:
    """The compiled preload library: built once per source and interpreter, in cache_dir()."""
    src = SOURCE.read_bytes()
    digest = hashlib.sha256(src + sys.version.encode() + sys.executable.encode()).hexdigest()[:16]
    d = cache_dir()
    lib = d / f"preload-{digest}.so"
    if lib.exists() and own_file(lib):
        return lib
    require("gcc")
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".so")
    os.close(fd)
    try:
        r = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, str(SOURCE), "-ldl"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RunError(f"compiling {SOURCE} failed:\n{r.stderr}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, lib)  # atomic: two first uses at once both end with a whole library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


def _import_paths() -> list[str]:
    """What the debugger's interpreter needs on sys.path to import lxbrand and its
    dependencies: this checkout (or installed package's parent) and our site-packages."""
    here = str(Path(__file__).resolve().parent.parent)
    paths = [here] + [p for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])]
    return list(dict.fromkeys(p for p in paths if p and os.path.isdir(p)))


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a debugger is run with: `base` (default: ours) plus the library at the
    front of LD_PRELOAD and the shim's variables (all of which the library removes again)."""
    env = dict(os.environ if base is None else base)
    lib = str(build())
    pre = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = lib + (":" + pre if pre else "")
    env["LXBRAND_SHIM_PATH"] = ":".join(_import_paths())
    env["LXBRAND_SHIM_LIBPYTHON"] = libpython()
    env["LXBRAND_SHIM_HOME"] = sys.base_prefix
    env["LXBRAND_SHIM_PYTHON"] = sys.executable
    return env


def run(argv: list[str]) -> int:
    """Execute the debugger `argv` on lx (this process becomes it); returns only on error."""
    if not argv:
        raise RunError("name the debugger to run: lxbrand run -- strace -f ls")
    exe = shutil.which(argv[0])
    if exe is None:
        raise RunError(f"{argv[0]}: command not found")
    env = environment()
    os.execve(exe, argv, env)
    return 127  # not reached
