"""The /proc files built from the host's /proc: cwd, root, path/, fd/, usage, lusage, lstatus,
lpsinfo, xmap and lwpusage, through procd, in their Solaris layouts."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.fields import offsetof, sizeof
from structs.procfs import LWPSINFO, LWPSTATUS, PRHEADER, PRMAP, PRUSAGE, PRXMAP
from structs.procfs_consts import MA, PRNODEV

from .procd_helpers import host_state, until

THREADS = r"""
#include <pthread.h>
#include <unistd.h>
static void *nap(void *a) { for (;;) pause(); return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, nap, 0); pthread_create(&t, 0, nap, 0);
                 for (;;) pause(); }
"""


def read(path: str) -> bytes:
    with npc.open(path) as f:
        out = b""
        while chunk := f.read(1 << 16):
            out += chunk
        return out


@pytest.fixture
def sleeper(tmp_path):
    held = tmp_path / "held.txt"
    held.write_text("x")
    fh = open(held)
    p = subprocess.Popen(["sleep", "100"], cwd=tmp_path, stdin=fh, stdout=subprocess.DEVNULL)
    fh.close()
    until(lambda: host_state(p.pid)[0] == "S", what="sleep asleep")
    yield p, held
    p.kill()
    p.wait(timeout=10)


def test_prxmap_layout_is_illumos_procfs_h():
    # procfs.h: prxmap_t (uintptr, size_t, char[64], offset_t, 3 ints, dev_t, uint64, 4 size_t,
    # uint64, ulong_t[7] under _LP64 / [6] under _ILP32).
    want = {"amd64": (216, {"pr_offset": 80, "pr_shmid": 96, "pr_dev": 104, "pr_ino": 112, "pr_rss": 120,
                            "pr_hatpagesize": 152, "pr_filler": 160}),
            "i386": (152, {"pr_offset": 72, "pr_shmid": 88, "pr_dev": 92, "pr_ino": 96, "pr_rss": 104,
                           "pr_hatpagesize": 120, "pr_filler": 128})}
    for m, (size, offs) in want.items():
        assert sizeof(PRXMAP[m]) == size
        assert {k: offsetof(PRXMAP[m], k) for k in offs} == offs


def test_links(sleeper):
    p, held = sleeper
    pid = p.pid
    assert read(f"{pid}/cwd") == os.fsencode(held.parent)
    assert read(f"{pid}/root") == b"/"
    assert read(f"{pid}/path/a.out") == os.fsencode(os.path.realpath("/proc/%d/exe" % pid))
    assert read(f"{pid}/path/0") == os.fsencode(held)
    assert read(f"{pid}/fd/0") == f"/proc/{pid}/fd/0".encode()
    names = npc.listdir(f"{pid}/path")
    assert names[:3] == ["a.out", "cwd", "root"] and "0" in names and "1" in names
    assert npc.listdir(f"{pid}/fd") == sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
    with pytest.raises(FileNotFoundError):
        npc.open(f"{pid}/fd/999")
    with pytest.raises(FileNotFoundError):
        npc.open(f"{pid}/path/nothing")
    with pytest.raises(OSError) as e:
        npc.open(f"{pid}/cwd", os.O_WRONLY)
    assert e.value.errno == errno.EACCES


def test_arrays_behind_a_prheader(cbuild):
    exe = cbuild(THREADS, "-pthread", name="threads3")
    p = subprocess.Popen([str(exe)])
    try:
        until(lambda: len(os.listdir(f"/proc/{p.pid}/task")) == 3, what="three threads")
        hdr = codec(PRHEADER["amd64"])
        for name, schema, extra in (("lstatus", LWPSTATUS, 0), ("lpsinfo", LWPSINFO, 0), ("lusage", PRUSAGE, 1)):
            data = read(f"{p.pid}/{name}")
            h = hdr.decode(data[:hdr.size])
            c = codec(schema["amd64"])
            assert (h["pr_nent"], h["pr_entsize"]) == (3 + extra, c.size), name
            assert len(data) == hdr.size + h["pr_nent"] * h["pr_entsize"]
            ids = [c.decode(data[hdr.size + i * c.size:hdr.size + (i + 1) * c.size])["pr_lwpid"]
                   for i in range(h["pr_nent"])]
            assert ids == [0] * extra + [1, 2, 3], name  # lusage opens with the defunct LWPs' entry
        u = codec(PRUSAGE["amd64"]).decode(read(f"{p.pid}/lwp/2/lwpusage"))
        assert u["pr_lwpid"] == 2 and u["pr_count"] == 1
        whole = codec(PRUSAGE["amd64"]).decode(read(f"{p.pid}/usage"))
        assert whole["pr_count"] == 3
        i32 = npc.open(f"{p.pid}/lstatus", model=1)  # an ILP32 reader gets the i386 layout
        h32 = codec(PRHEADER["i386"]).decode(i32.read()[:8])
        i32.close()
        assert (h32["pr_nent"], h32["pr_entsize"]) == (3, sizeof(LWPSTATUS["i386"]))
    finally:
        p.kill()
        p.wait(timeout=10)


def test_xmap_follows_map(sleeper):
    p, _ = sleeper
    xm, mp = codec(PRXMAP["amd64"]), codec(PRMAP["amd64"])
    xdata, mdata = read(f"{p.pid}/xmap"), read(f"{p.pid}/map")
    xs = [xm.decode(xdata[i:i + xm.size]) for i in range(0, len(xdata), xm.size)]
    ms = [mp.decode(mdata[i:i + mp.size]) for i in range(0, len(mdata), mp.size)]
    assert len(xdata) % xm.size == 0 and [x["pr_vaddr"] for x in xs] == [m["pr_vaddr"] for m in ms]
    exe_ino = os.stat(f"/proc/{p.pid}/exe").st_ino
    text = next(x for x in xs if x["pr_mflags"] & MA.MA_EXEC and x["pr_ino"] == exe_ino)
    assert text["pr_dev"] != PRNODEV["amd64"] and 0 < text["pr_rss"] * 4096 <= text["pr_size"]
    stack = next(x for x in xs if x["pr_mflags"] & MA.MA_STACK)
    assert stack["pr_dev"] == PRNODEV["amd64"] and stack["pr_ino"] == 0 and stack["pr_anon"] >= 1
    assert all(x["pr_hatpagesize"] == x["pr_pagesize"] == os.sysconf("SC_PAGESIZE") for x in xs)


def test_gone_process():
    p = subprocess.Popen(["true"])
    p.wait()
    for name in ("cwd", "xmap", "lstatus", "usage", "path/a.out"):
        with pytest.raises(FileNotFoundError):
            npc.open(f"{p.pid}/{name}")
