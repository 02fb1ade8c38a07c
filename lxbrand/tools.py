"""Run-time tools the conformance suite and the replay targets need: checked at first use.

lxbrand compiles its small C targets when they are first needed (nothing is built at install
time), so a machine without a C tool chain only finds out then.  `require(name)` makes that a
clear message naming the Debian package to install, instead of a FileNotFoundError from
subprocess or a linker error about crt files.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

__all__ = ["TOOLS", "MissingTool", "require", "own_dir", "own_file"]

#: tool -> (what it is needed for, the Debian package that provides it)
TOOLS: dict[str, tuple[str, str]] = {
    "gcc": ("compiling the C targets of `lxbrand conform` and replay", "gcc"),
    "gcc -m32": ("the 32-bit (i386) targets of `lxbrand conform` (the user32 group)", "gcc-multilib"),
    "nm": ("reading the symbol addresses of the conformance targets", "binutils"),
}


class MissingTool(RuntimeError):
    """A run-time tool is missing or does not work; the message names the package to install."""


@functools.cache
def require(tool: str) -> None:
    """Return if `tool` ("gcc", "gcc -m32" or "nm") works here, else raise MissingTool."""
    why, package = TOOLS[tool]
    exe = tool.split()[0]
    if shutil.which(exe) is None:
        raise MissingTool(f"{exe} not found: it is needed for {why}; "
                          f"install it with `apt-get install {package}` (Debian/Ubuntu)")
    if tool == "gcc -m32":
        # gcc is there; -m32 needs the 32-bit libc and crt files, which only a link shows.
        with tempfile.TemporaryDirectory() as d:
            res = subprocess.run(["gcc", "-m32", "-static", "-x", "c", "-o", f"{d}/probe", "-"],
                                 input="int main(void){return 0;}\n", capture_output=True, text=True)
        if res.returncode != 0:
            first = (res.stderr.strip().splitlines() or ["(no message)"])[0]
            raise MissingTool(f"gcc -m32 does not link ({first}): it is needed for {why}; "
                              f"install it with `apt-get install {package}` (Debian/Ubuntu)")


def own_dir(d: Path, create_parents: bool = False) -> Path:
    """`d` as a directory only we can write (created mode 0700; refused with RuntimeError when it
    is a symbolic link, another user's, or writable by group or others): a program is run from
    it, so nobody else may put one there.  Its mode is never changed."""
    try:
        d.mkdir(mode=0o700, parents=create_parents, exist_ok=True)
        st = os.lstat(d)
    except OSError as e:
        raise RuntimeError(f"cannot create {d}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeError(f"{d} is not a directory (a symbolic link or a file is there): not using it")
    if st.st_uid != os.getuid():
        raise RuntimeError(f"{d} belongs to uid {st.st_uid}, not to us (uid {os.getuid()}): not running a "
                           "program from it")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise RuntimeError(f"{d} is writable by others (mode {stat.S_IMODE(st.st_mode):o}): not running "
                           "a program from it")
    return d


def own_file(path: Path) -> bool:
    """A regular file we own that nobody else may write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not stat.S_IMODE(st.st_mode) & 0o022
