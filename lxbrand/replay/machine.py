"""What a recording tells of the machine it was made on, next to this machine: the CPU features
the kernel passed in the auxv (AT_HWCAP, AT_HWCAP2, AT_PLATFORM, AT_MINSIGSTKSZ), and the
glibc-hwcaps levels ld.so named in its search path.

A replay made on another CPU sees ld.so choose other library subdirectories
(``glibc-hwcaps/x86-64-v4`` on an AVX-512 machine), so ld.so's search-path strings and everything
its start-up allocator placed after them differ.  These facts let the replayer name such a
difference ("machine") with both sides' features, instead of calling it unexplained; they are read
from the recording (its own memory reads) and from the live process, never guessed.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
from dataclasses import dataclass, field

AT_NULL, AT_PAGESZ, AT_PHENT = 0, 6, 4
AT_HWCAP, AT_PLATFORM, AT_HWCAP2, AT_MINSIGSTKSZ = 16, 15, 26, 51
_AUXV_KEYS = {AT_HWCAP: "AT_HWCAP", AT_HWCAP2: "AT_HWCAP2", AT_MINSIGSTKSZ: "AT_MINSIGSTKSZ"}
_LEVEL = re.compile(rb"glibc-hwcaps/(x86-64-v[0-9])/")
_PAGESZ = struct.pack("<QQ", AT_PAGESZ, 4096)


def levels_in(data: bytes) -> set[str]:
    """The glibc-hwcaps levels named in a buffer (ld.so's search-path strings)."""
    return {m.group(1).decode() for m in _LEVEL.finditer(data)}


def find_auxv(data: bytes, base: int) -> tuple[list[tuple[int, int]], int] | None:
    """An auxv vector inside a buffer read at `base` (found by its AT_PAGESZ entry, walked to
    AT_NULL on 16-byte pairs): (pairs, address), or None."""
    k = data.find(_PAGESZ)
    while k >= 0:
        if (base + k) % 8 == 0:
            start = k
            while start >= 16 and struct.unpack_from("<Q", data, start - 16)[0] in range(1, 64):
                start -= 16
            pairs, j = [], start
            while j + 16 <= len(data):
                key, val = struct.unpack_from("<QQ", data, j)
                pairs.append((key, val))
                j += 16
                if key == AT_NULL:
                    if any(key == AT_PHENT for key, _ in pairs):
                        return pairs, base + start
                    break
                if key >= 64:
                    break
        k = data.find(_PAGESZ, k + 8)
    return None


@dataclass
class CpuSide:
    """One side's CPU as the auxv and ld.so show it (None: not seen)."""

    hwcap: int | None = None
    hwcap2: int | None = None
    platform: str | None = None
    minsigstksz: int | None = None
    levels: set[str] | None = None
    search_elem: int | None = None  # bytes of ld.so's first search-path element (search_elem_size)

    def describe(self) -> str:
        parts = []
        for name, v in (("AT_HWCAP", self.hwcap), ("AT_HWCAP2", self.hwcap2)):
            if v is not None:
                parts.append(f"{name} {v:#x}")
        if self.platform is not None:
            parts.append(f"AT_PLATFORM {self.platform}")
        if self.minsigstksz is not None:
            parts.append(f"AT_MINSIGSTKSZ {self.minsigstksz} (the XSAVE area's size)")
        if self.levels is not None:
            parts.append("ld.so searched " + (", ".join(f"glibc-hwcaps/{x}" for x in sorted(self.levels, reverse=True))
                                              if self.levels else "no glibc-hwcaps level"))
        if self.search_elem is not None:
            parts.append(f"ld.so's first search-path element {self.search_elem:#x} bytes (one status "
                         "per hwcaps subdirectory it searches)")
        return "; ".join(parts) or "not seen"


def search_elem_size(data: bytes, base: int, start: int) -> int | None:
    """The size of the first block of ld.so's start-up allocator at `start` (read in `data` at
    `base`), when its first word points just past it inside the same page: ld.so's first
    allocation is the system search path's element (struct r_search_path_elem), which holds one
    status per hwcaps subdirectory combination, so its size follows the CPU features ld.so found
    (its own cpuid, which the auxv does not show).  None when the buffer does not show it."""
    k = start - base
    if k < 0 or k + 8 > len(data):
        return None
    nxt = struct.unpack_from("<Q", data, k)[0]
    size = nxt - start
    return size if 0x28 < size < 0x1000 and size % 8 == 0 else None


def side_from_auxv(pairs: list[tuple[int, int]], read_str=None) -> CpuSide:
    """A CpuSide from auxv pairs; `read_str(addr)` reads AT_PLATFORM's string (or None)."""
    d = dict(pairs)
    plat = None
    if AT_PLATFORM in d and read_str is not None:
        plat = read_str(d[AT_PLATFORM])
    return CpuSide(hwcap=d.get(AT_HWCAP), hwcap2=d.get(AT_HWCAP2), platform=plat,
                   minsigstksz=d.get(AT_MINSIGSTKSZ))


@dataclass
class MachineFacts:
    """The recorded and the live CPU side by side, and whether they differ in what makes ld.so
    choose another search path (feature level) or another XSAVE size."""

    recorded: CpuSide = field(default_factory=CpuSide)
    live: CpuSide = field(default_factory=CpuSide)

    def differences(self) -> list[str]:
        """The facts seen on both sides that differ (empty: no established difference)."""
        out = []
        r, l_ = self.recorded, self.live
        for name in ("hwcap", "hwcap2", "platform", "minsigstksz"):
            a, b = getattr(r, name), getattr(l_, name)
            if a is not None and b is not None and a != b:
                out.append(name)
        if r.levels is not None and l_.levels is not None and r.levels != l_.levels:
            out.append("levels")
        if r.search_elem is not None and l_.search_elem is not None and r.search_elem != l_.search_elem:
            out.append("search_elem")
        return out

    def hwcaps_reason(self) -> str | None:
        """Why ld.so's data differs: its hwcaps/platform selection, with each side's features;
        None when the recording and this machine are not known to differ."""
        diff = self.differences()
        if not diff or not ({"levels", "hwcap", "hwcap2", "platform", "search_elem"} & set(diff)):
            return None
        return ("ld.so's hwcaps/platform selection: another CPU (recorded: "
                f"{self.recorded.describe()}; here: {self.live.describe()}), so ld.so's search-path "
                "strings and what its start-up allocator placed after them differ")

    def xsave_reason(self) -> str | None:
        if "minsigstksz" in self.differences():
            return (f"the XSAVE area's size: AT_MINSIGSTKSZ {self.recorded.minsigstksz} recorded, "
                    f"{self.live.minsigstksz} here (another CPU's extended state)")
        return None


LDSO = "/lib64/ld-linux-x86-64.so.2"
_SEARCHED = re.compile(r"^\s+(x86-64-v[0-9])\s+\(supported, searched\)", re.M)


def searched_levels(env: dict[str, str] | None = None) -> list[str] | None:
    """The glibc-hwcaps levels ld.so searches on this machine under `env` (GLIBC_TUNABLES may
    mask CPU features), as `ld.so --help` lists them; None when ld.so cannot say."""
    try:
        out = subprocess.run([LDSO, "--help"], capture_output=True, text=True, timeout=10,
                             env={k: v for k, v in (env or {}).items() if k == "GLIBC_TUNABLES"}).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _SEARCHED.findall(out)
    return found if "glibc-hwcaps" in out else None


def file_digest(path: str) -> str | None:
    """sha256 of a file (None when unreadable): tells two builds of a library apart."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


#: the files whose build a recording depends on everywhere (ld.so and libc)
CORE_FILES = (os.path.realpath(LDSO), os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6"))


def libraries_of(program: str, env: dict[str, str]) -> list[str]:
    """The shared libraries ld.so loads for `program` (`ld.so --list`), as real paths."""
    try:
        out = subprocess.run([LDSO, "--list", program], capture_output=True, text=True, timeout=10,
                             env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [os.path.realpath(m.group(1)) for m in re.finditer(r"=> (/\S+) \(0x", out)]


def recorder_facts(env: dict[str, str], program: str | None = None) -> dict:
    """What `lxbrand record` writes into meta.json["machine"]: the hwcaps levels ld.so searched
    for the target (under the target's environment), the CPU, and digests of ld.so and libc --
    so that a replay elsewhere can name what differs with both sides' facts."""
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    files = list(CORE_FILES) + (libraries_of(program, env) if program else [])
    return {"glibc_hwcaps": searched_levels(env), "cpu": cpu,
            "files": {p: file_digest(p) for p in dict.fromkeys(files)}}
