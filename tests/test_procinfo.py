"""native_proc.procinfo against real processes: the Solaris files built from the host's /proc.

Every result is decoded back with the construct schemas of structs.procfs and checked against
what the host says (os, /proc) and what the C targets did (blocked, ignored, caught signals,
named threads).  Every process started here is killed and reaped.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from native_proc import host, procinfo as P
from structs import procfs as S
from structs.codec import codec
from structs.procfs_consts import MA, PR_MODEL_ILP32, PR_MODEL_LP64, PR_MODEL_UNKNOWN, PRNODEV
from structs.signals import LINUX_NSIG, LTOS, SOLARIS_ONLY, STOL

MODELS = ("amd64", "i386")

# Blocks SIGUSR1 in every thread, ignores SIGUSR2, catches SIGTERM; starts argv[1] named worker
# threads; prints "ready <address on the main stack>"; then every thread sleeps in pause().
THREADS = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void on_term(int s) { (void)s; }
static void *worker(void *a) { for (;;) pause(); return a; }
int main(int argc, char **argv) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, 0);
    signal(SIGUSR2, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, 0);
    int n = argc > 1 ? atoi(argv[1]) : 2;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        char name[16];
        pthread_create(&t, 0, worker, 0);
        snprintf(name, sizeof name, "worker%d", i);
        pthread_setname_np(t, name);
    }
    printf("ready %p\n", (void *)&set);
    fflush(stdout);
    for (;;) pause();
}
"""

# The thread-group leader leaves with pthread_exit while one thread goes on: a zombie LWP in a
# live process.
LEADER_EXITS = r"""
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *worker(void *a) { printf("ready\n"); fflush(stdout); for (;;) pause(); return a; }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, worker, 0);
    pthread_exit(0);
}
"""


def _dec(schema, data: bytes, model: str) -> list[dict]:
    c = codec(schema[model])
    assert len(data) % c.size == 0, (len(data), c.size)
    return [c.decode(data, off) for off in range(0, len(data), c.size)]


def _stat_fields(path: str) -> list[str]:
    raw = open(path).read()
    return raw[raw.rfind(")") + 2 :].split()


def _state(pid: int) -> str:
    return _stat_fields(f"/proc/{pid}/stat")[0]


def _wait_state(pid: int, letters: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _state(pid) not in letters:
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} never reached state {letters!r} (is {_state(pid)})")
        time.sleep(0.005)


def _gone(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def _run(argv: list[str], ready: bool = True) -> Iterator[tuple[subprocess.Popen, str]]:
    """A target in a session of its own (no controlling tty), killed and reaped on exit."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, start_new_session=True)
    try:
        line = p.stdout.readline().decode() if ready else ""
        if ready:
            assert line.startswith("ready"), line
        yield p, line
    finally:
        _gone(p.pid)
        p.wait()
        p.stdout.close()


@pytest.fixture(scope="module")
def threads64(cbuild):
    return str(cbuild(THREADS, "-O0", "-pthread", name="procinfo-threads"))


@pytest.fixture(scope="module")
def threads32(cbuild):
    try:
        return str(cbuild(THREADS, "-O0", "-m32", "-pthread", name="procinfo-threads32"))
    except RuntimeError as e:  # pragma: no cover - gcc-multilib missing
        pytest.skip(f"no 32-bit toolchain: {e}")


@pytest.fixture(params=["64", "32"])
def target(request, threads64, threads32):
    """(Popen, main-stack address, expected PR_MODEL, argv) of a running THREADS target."""
    path = threads64 if request.param == "64" else threads32
    argv = [path, "2", "extra arg"]
    with _run(argv) as (p, line):
        for tid in _task_tids(p.pid):  # every thread asleep in pause()
            _wait_state(tid, "S")
        yield p, int(line.split()[1], 16), (PR_MODEL_LP64 if request.param == "64" else PR_MODEL_ILP32), argv


def _task_tids(pid: int) -> list[int]:
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    tids.remove(pid)
    return [pid, *tids]


# --- sigset helpers -------------------------------------------------------------------------------


def _sol_bits(b: bytes) -> set[int]:
    v = int.from_bytes(b, "little")
    return {n + 1 for n in range(128) if v >> n & 1}


def test_sigset_bytes_maps_every_linux_signal_by_ltos():
    for lsig in range(1, LINUX_NSIG):
        b = P.sigset_bytes(1 << (lsig - 1))
        assert len(b) == 16
        assert _sol_bits(b) == {LTOS[lsig]}
        assert P.linux_mask(b) == 1 << (lsig - 1)
    assert P.sigset_bytes(0) == bytes(16)
    assert P.sigset_bytes((1 << 64) - 1) == P.sigset_bytes((1 << 64) - 1)
    assert len(_sol_bits(P.sigset_bytes((1 << 64) - 1))) == 64


def test_linux_mask_drops_solaris_only_signals():
    every = ((1 << 73) - 1).to_bytes(16, "little")
    assert P.linux_mask(every) == (1 << 64) - 1
    for s in SOLARIS_ONLY:
        assert P.linux_mask((1 << (s - 1)).to_bytes(16, "little")) == 0
    for s in range(1, 74):
        if STOL[s]:
            assert P.linux_mask((1 << (s - 1)).to_bytes(16, "little")) == 1 << (STOL[s] - 1)


def test_sigset_round_trip_random_masks():
    import random

    rng = random.Random(7)
    for _ in range(200):
        m = rng.getrandbits(64)
        assert P.linux_mask(P.sigset_bytes(m)) == m


# --- dmodel -----------------------------------------------------------------------------------------


def test_dmodel_of_64_and_32_bit_targets(target):
    p, _, expected, _ = target
    assert P.dmodel(p.pid) == expected


def test_dmodel_of_self():
    assert P.dmodel(os.getpid()) == PR_MODEL_LP64


# --- psinfo -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_psinfo_matches_the_host(target, model):
    p, _, tmodel, argv = target
    t0 = time.time()
    data = P.psinfo(p.pid, model)
    assert len(data) == codec(S.PSINFO[model]).size == (416 if model == "amd64" else 336)
    d = codec(S.PSINFO[model]).decode(data)
    assert d["pr_pid"] == p.pid
    assert d["pr_ppid"] == os.getpid()
    assert d["pr_pgid"] == os.getpgid(p.pid) == p.pid  # start_new_session
    assert d["pr_sid"] == os.getsid(p.pid) == p.pid
    assert (d["pr_uid"], d["pr_euid"]) == (os.getuid(), os.geteuid())
    assert (d["pr_gid"], d["pr_egid"]) == (os.getgid(), os.getegid())
    assert d["pr_nlwp"] == 3 and d["pr_nzomb"] == 0
    assert d["pr_fname"] == os.path.basename(argv[0]).encode()[:15].ljust(16, b"\0")
    assert d["pr_psargs"].rstrip(b"\0") == " ".join(argv).encode()[:79]
    assert d["pr_psargs"][-1] == 0
    assert d["pr_argc"] == 3
    assert d["pr_dmodel"] == tmodel
    assert d["pr_ttydev"] == PRNODEV[model]  # a new session has no controlling tty
    assert d["pr_flag"] == 0
    assert d["pr_contract"] == -1
    start = d["pr_start"]["tv_sec"] + d["pr_start"]["tv_nsec"] / 1e9
    assert t0 - 10 < start <= t0 + 0.05
    if model == "i386" and tmodel == PR_MODEL_LP64:
        # prgetpsinfo32: what an LP64 process cannot show an ILP32 reader is zero.
        assert d["pr_size"] == d["pr_rssize"] == d["pr_argv"] == d["pr_envp"] == 0
    else:
        statm = open(f"/proc/{p.pid}/statm").read().split()
        assert d["pr_size"] == int(statm[0]) * os.sysconf("SC_PAGESIZE") // 1024
        assert d["pr_rssize"] > 0
        # pr_argv points at the target's argv[]: follow it to argv[0] and argv[1].
        word = 4 if tmodel == PR_MODEL_ILP32 else 8
        vec = host.process_vm_readv(p.pid, d["pr_argv"], 3 * word)
        ptrs = [int.from_bytes(vec[i : i + word], "little") for i in range(0, 3 * word, word)]
        assert host.process_vm_readv(p.pid, ptrs[0], len(argv[0]) + 1) == argv[0].encode() + b"\0"
        assert host.process_vm_readv(p.pid, ptrs[1], 2) == b"2\0"
        # pr_envp points just past argv's NULL.
        assert d["pr_envp"] == d["pr_argv"] + (len(argv) + 1) * word
    lw = d["pr_lwp"]
    assert lw["pr_lwpid"] == 1  # the leader, sleeping like the others
    assert lw["pr_sname"] == ord("S") and lw["pr_state"] == P.SSLEEP


@pytest.mark.parametrize("model", MODELS)
def test_psinfo_with_given_representative(target, model):
    p, _, _, _ = target
    tid = _task_tids(p.pid)[2]
    d = codec(S.PSINFO[model]).decode(P.psinfo(p.pid, model, (tid, 7)))
    assert d["pr_lwp"]["pr_lwpid"] == 7
    assert d["pr_lwp"]["pr_name"].rstrip(b"\0") == b"worker1"


def test_psinfo_of_stopped_process_shows_sstop(threads64):
    with _run([threads64, "1"]) as (p, _):
        os.kill(p.pid, signal.SIGSTOP)
        try:
            for tid in _task_tids(p.pid):
                _wait_state(tid, "T")
            d = codec(S.PSINFO["amd64"]).decode(P.psinfo(p.pid, "amd64"))
            assert d["pr_lwp"]["pr_state"] == P.SSTOP and d["pr_lwp"]["pr_sname"] == ord("T")
        finally:
            os.kill(p.pid, signal.SIGCONT)


def test_psinfo_of_a_running_process_shows_srun(cbuild):
    spin = cbuild('#include <stdio.h>\nint main(void){printf("ready\\n");fflush(stdout);for(;;);}',
                  "-O0", name="procinfo-spin")
    with _run([str(spin)]) as (p, _):
        deadline = time.monotonic() + 5
        while True:
            d = codec(S.PSINFO["amd64"]).decode(P.psinfo(p.pid, "amd64"))
            if d["pr_lwp"]["pr_sname"] == ord("R") or time.monotonic() > deadline:
                break
        assert d["pr_lwp"]["pr_state"] == P.SRUN and d["pr_lwp"]["pr_sname"] == ord("R")
        assert d["pr_lwp"]["pr_syscall"] == 0


# --- lwpsinfo -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_lwpsinfo_of_every_thread(target, model):
    p, _, _, argv = target
    c = codec(S.LWPSINFO[model])
    names = [os.path.basename(argv[0]).encode()[:15], b"worker0", b"worker1"]
    for lwpid, tid in enumerate(_task_tids(p.pid), 1):
        data = P.lwpsinfo(p.pid, tid, lwpid, model)
        assert len(data) == c.size == (128 if model == "amd64" else 104)
        d = c.decode(data)
        assert d["pr_lwpid"] == lwpid
        assert (d["pr_state"], d["pr_sname"]) == (P.SSLEEP, ord("S"))
        assert d["pr_name"].rstrip(b"\0") == names[lwpid - 1]
        assert d["pr_clname"] == b"TS".ljust(8, b"\0")
        f = _stat_fields(f"/proc/{p.pid}/task/{tid}/stat")
        assert d["pr_nice"] == int(f[16]) + 20
        assert d["pr_onpro"] == int(f[36])
        assert d["pr_bindpro"] == P.PBIND_NONE and d["pr_bindpset"] == P.PS_NONE
        # Sleeping in pause(): pr_syscall is the host's number for the call it sleeps in.
        nr = open(f"/proc/{p.pid}/task/{tid}/syscall").read().split()[0]
        assert d["pr_syscall"] == int(nr) != 0


def test_lwpsinfo_of_gone_thread_enoent(target):
    p, _, _, _ = target
    with pytest.raises(OSError) as ei:
        P.lwpsinfo(p.pid, 999_999_999, 1, "amd64")
    assert ei.value.errno == errno.ENOENT


# --- map --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_maps(target, model):
    p, stack_addr, tmodel, argv = target
    if model == "i386" and tmodel == PR_MODEL_LP64:
        with pytest.raises(OSError) as ei:
            P.maps(p.pid, model)
        assert ei.value.errno == errno.EOVERFLOW
        return
    entries = _dec(S.PRMAP, P.maps(p.pid, model), model)
    lines = [ln for ln in open(f"/proc/{p.pid}/maps").read().splitlines() if ln]
    assert len(entries) == len(lines)
    vaddrs = [e["pr_vaddr"] for e in entries]
    assert vaddrs == sorted(vaddrs)
    exe = os.path.basename(argv[0]).encode()
    mine = [e for e in entries if e["pr_mapname"].rstrip(b"\0") == exe]
    assert mine and any(e["pr_mflags"] & MA.MA_EXEC and e["pr_mflags"] & MA.MA_READ for e in mine)
    assert all(not e["pr_mflags"] & MA.MA_ANON for e in mine)
    stack = [e for e in entries if e["pr_mflags"] & MA.MA_STACK]
    assert len(stack) == 1
    st = stack[0]
    assert st["pr_vaddr"] <= stack_addr < st["pr_vaddr"] + st["pr_size"]
    assert st["pr_mflags"] & (MA.MA_READ | MA.MA_WRITE | MA.MA_ANON) == MA.MA_READ | MA.MA_WRITE | MA.MA_ANON
    assert st["pr_mapname"] == bytes(64)
    for e, line in zip(entries, lines):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        assert (e["pr_vaddr"], e["pr_size"]) == (lo, hi - lo)
        assert e["pr_pagesize"] == os.sysconf("SC_PAGESIZE")
        assert e["pr_shmid"] == -1
        assert e["pr_mapname"][-1] == 0
        perms = line.split()[1]
        assert bool(e["pr_mflags"] & MA.MA_WRITE) == (perms[1] == "w")
        assert bool(e["pr_mflags"] & MA.MA_SHARED) == (perms[3] == "s")
    if any(ln.endswith("[heap]") for ln in lines):
        assert any(e["pr_mflags"] & MA.MA_BREAK for e in entries)


# --- cred ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_cred_matches_os(target, model):
    p, _, _, _ = target
    data = P.cred(p.pid, model)
    groups = os.getgroups()
    assert len(data) == 28 + 4 * max(len(groups), 1)
    head = codec(S.PRCRED[model]).decode(data[:32])
    assert (head["pr_ruid"], head["pr_euid"], head["pr_suid"]) == os.getresuid()
    assert (head["pr_rgid"], head["pr_egid"], head["pr_sgid"]) == os.getresgid()
    assert head["pr_ngroups"] == len(groups)
    got = list(struct.unpack(f"<{max(len(groups), 1)}I", data[28:]))
    assert sorted(got[: len(groups)]) == sorted(groups)


# --- auxv ---------------------------------------------------------------------------------------------


def _host_auxv(pid: int, tmodel: int) -> list[tuple[int, int]]:
    raw = open(f"/proc/{pid}/auxv", "rb").read()
    fmt = "<II" if tmodel == PR_MODEL_ILP32 else "<QQ"
    return [struct.unpack_from(fmt, raw, o) for o in range(0, len(raw), struct.calcsize(fmt))]


@pytest.mark.parametrize("model", MODELS)
def test_auxv(target, model):
    p, _, tmodel, argv = target
    if model == "i386" and tmodel == PR_MODEL_LP64:
        with pytest.raises(OSError) as ei:
            P.auxv(p.pid, model)
        assert ei.value.errno == errno.EOVERFLOW
        return
    data = P.auxv(p.pid, model)
    assert len(data) % (16 if model == "amd64" else 8) == 0
    entries = [(e["a_type"], e["a_un"]) for e in _dec(S.AUXV, data, model)]
    assert entries[-1] == (P.AT_NULL, 0)
    host_entries = _host_auxv(p.pid, tmodel)
    assert entries == host_entries[: len(entries)]
    av = dict(entries)
    assert av[P.AT_PAGESZ] == 4096
    # AT_ENTRY lies in an executable mapping of the program itself.
    maps = _dec(S.PRMAP, P.maps(p.pid, model), model)
    exe = os.path.basename(argv[0]).encode()
    assert any(m["pr_mapname"].rstrip(b"\0") == exe and m["pr_mflags"] & MA.MA_EXEC
               and m["pr_vaddr"] <= av[P.AT_ENTRY] < m["pr_vaddr"] + m["pr_size"] for m in maps)


# --- sigsets / sigact -------------------------------------------------------------------------------


def test_sigsets_blocked_ignored_caught(target):
    p, _, _, _ = target
    for tid in _task_tids(p.pid):
        sets = P.sigsets(p.pid, tid)
        assert set(sets) == {"lwppend", "procpend", "hold", "ignored", "caught"}
        assert all(len(v) == 16 for v in sets.values())
        assert 16 in _sol_bits(sets["hold"])  # SIGUSR1 (Linux 10)
        assert 17 in _sol_bits(sets["ignored"])  # SIGUSR2 (Linux 12)
        assert 15 in _sol_bits(sets["caught"])  # SIGTERM
        assert 16 not in _sol_bits(sets["lwppend"]) | _sol_bits(sets["procpend"])


def test_sigsets_pending_per_lwp_and_process(target):
    p, _, _, _ = target
    tids = _task_tids(p.pid)
    host.tgkill(p.pid, tids[1], signal.SIGUSR1)  # blocked everywhere: stays pending on tids[1]
    assert 16 in _sol_bits(P.sigsets(p.pid, tids[1])["lwppend"])
    assert 16 not in _sol_bits(P.sigsets(p.pid, tids[2])["lwppend"])
    assert 16 not in _sol_bits(P.sigsets(p.pid, tids[1])["procpend"])
    os.kill(p.pid, signal.SIGUSR1)  # pending on the process
    assert 16 in _sol_bits(P.sigsets(p.pid, tids[0])["procpend"])
    assert 16 in _sol_bits(P.sigsets(p.pid, tids[2])["procpend"])


@pytest.mark.parametrize("model", MODELS)
def test_sigact(target, model):
    p, _, tmodel, _ = target
    if model == "i386" and tmodel == PR_MODEL_LP64:
        with pytest.raises(OSError) as ei:
            P.sigact(p.pid, model)
        assert ei.value.errno == errno.EOVERFLOW
        return
    acts = _dec(S.SIGACTION, P.sigact(p.pid, model), model)
    assert len(acts) == 73
    assert acts[17 - 1]["sa_handler"] == P.SIG_IGN  # SIGUSR2 ignored
    assert acts[16 - 1]["sa_handler"] == P.SIG_DFL  # SIGUSR1 only blocked
    assert acts[15 - 1]["sa_handler"] == P.SIG_DFL  # SIGTERM caught: handler not knowable
    assert all(a["sa_flags"] == 0 and a["sa_mask"]["__sigbits"] == bytes(16) for a in acts)
    ignored = {i + 1 for i, a in enumerate(acts) if a["sa_handler"] == P.SIG_IGN}
    assert ignored == _sol_bits(P.sigsets(p.pid, p.pid)["ignored"])


def test_limitations_are_documented():
    assert P.LIMITATIONS and all(isinstance(s, str) and s for s in P.LIMITATIONS)
    assert any(s.startswith("sigact") for s in P.LIMITATIONS)


# --- usage ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_usage(target, model):
    p, _, _, _ = target
    data = P.usage(p.pid, model)
    assert len(data) == codec(S.PRUSAGE[model]).size
    d = codec(S.PRUSAGE[model]).decode(data)
    assert d["pr_count"] == 3
    ns = lambda t: t["tv_sec"] * 10**9 + t["tv_nsec"]  # noqa: E731
    assert 0 < ns(d["pr_create"]) <= ns(d["pr_tstamp"])
    assert d["pr_minf"] > 0
    lu = codec(S.PRUSAGE[model]).decode(P.lwpusage(p.pid, _task_tids(p.pid)[1], 2, model))
    assert lu["pr_lwpid"] == 2 and lu["pr_count"] == 1


# --- zombies and vanished processes ------------------------------------------------------------------


def _zombie(argv: list[str], sig: int | None = None) -> subprocess.Popen:
    p = subprocess.Popen(argv, start_new_session=True)
    if sig is not None:
        os.kill(p.pid, sig)
    _wait_state(p.pid, "Z")
    return p


@pytest.mark.parametrize("model", MODELS)
def test_zombie_keeps_psinfo(model):
    p = _zombie(["sh", "-c", "exit 7"])
    try:
        d = codec(S.PSINFO[model]).decode(P.psinfo(p.pid, model))
        assert d["pr_pid"] == p.pid and d["pr_ppid"] == os.getpid()
        assert d["pr_uid"] == os.getuid()
        assert d["pr_nlwp"] == 0
        assert d["pr_wstat"] == 7 << 8
        assert d["pr_ttydev"] == PRNODEV[model]
        assert d["pr_lwp"]["pr_state"] == P.SZOMB and d["pr_lwp"]["pr_sname"] == ord("Z")
        assert d["pr_lwp"]["pr_bindpro"] == P.PBIND_NONE
        assert d["pr_dmodel"] == PR_MODEL_UNKNOWN
        assert codec(S.PSINFO[model]).decode(P.psinfo(p.pid, model, target_model=PR_MODEL_LP64))[
            "pr_dmodel"] == PR_MODEL_LP64
        P.usage(p.pid, model)  # usage survives too
        for fn in (P.maps, P.cred, P.auxv, P.sigact):
            with pytest.raises(OSError) as ei:
                fn(p.pid, model)
            assert ei.value.errno == errno.ENOENT, fn.__name__
    finally:
        p.wait()


def test_zombie_killed_by_signal_has_solaris_wstat():
    p = _zombie(["sleep", "30"], signal.SIGUSR1)
    try:
        d = codec(S.PSINFO["amd64"]).decode(P.psinfo(p.pid, "amd64"))
        assert d["pr_wstat"] == 16  # Solaris SIGUSR1, no core flag
    finally:
        p.wait()


def test_leader_exited_but_process_lives(cbuild):
    path = str(cbuild(LEADER_EXITS, "-O0", "-pthread", name="procinfo-leader-exits"))
    with _run([path]) as (p, _):
        _wait_state(p.pid, "Z")
        d = codec(S.PSINFO["amd64"]).decode(P.psinfo(p.pid, "amd64"))
        assert d["pr_nlwp"] == 1 and d["pr_nzomb"] == 1
        assert d["pr_dmodel"] == PR_MODEL_LP64
        assert d["pr_size"] > 0 and d["pr_argc"] == 1
        assert d["pr_lwp"]["pr_lwpid"] == 2 and d["pr_lwp"]["pr_state"] in (P.SSLEEP, P.SRUN)  # it sleeps, but may be caught waking
        assert P.dmodel(p.pid) == PR_MODEL_LP64
        assert _dec(S.PRMAP, P.maps(p.pid, "amd64"), "amd64")
        assert dict((e["a_type"], e["a_un"]) for e in _dec(S.AUXV, P.auxv(p.pid, "amd64"), "amd64"))[
            P.AT_PAGESZ] == 4096
        zl = codec(S.LWPSINFO["amd64"]).decode(P.lwpsinfo(p.pid, p.pid, 1, "amd64"))
        assert zl["pr_state"] == P.SZOMB and zl["pr_lwpid"] == 1 and zl["pr_name"] == bytes(16)


def test_gone_pid_is_enoent():
    p = subprocess.Popen(["true"])
    p.wait()
    pid = p.pid
    calls = [
        lambda: P.dmodel(pid), lambda: P.ids(pid),
        lambda: P.psinfo(pid, "amd64"), lambda: P.lwpsinfo(pid, pid, 1, "amd64"),
        lambda: P.maps(pid, "amd64"), lambda: P.cred(pid, "i386"), lambda: P.auxv(pid, "amd64"),
        lambda: P.sigsets(pid, pid), lambda: P.sigact(pid, "amd64"), lambda: P.usage(pid, "amd64"),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.ENOENT
        assert isinstance(ei.value, FileNotFoundError)


def test_ids(target):
    p, _, _, _ = target
    assert P.ids(p.pid) == (os.getpid(), p.pid, p.pid)


def test_unknown_model_is_valueerror():
    with pytest.raises(ValueError):
        P.psinfo(os.getpid(), "sparcv9")
