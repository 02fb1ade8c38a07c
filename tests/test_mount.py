"""`native-proc mount DIR`: the tree as real files, driven by a C program and a shell (no
Python on the client side), through a real FUSE mount served by a real procd."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from native_proc.mount import fuse_unavailable

from .conftest import REPO
from .procd_helpers import Served, host_state, until

WHY_NOT = fuse_unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"FUSE cannot work here: {WHY_NOT}")

PCSTOP, PCDSTOP, PCWSTOP, PCRUN, PCSET = 1, 2, 3, 5, 16
PR_RLC, PR_FORK = 0x200000, 0x100000

# A C client: PCSET PR_RLC, PCSTOP, read lwpstatus and as, PCRUN; then a forked child blocks in
# PCWSTOP on the inherited descriptor until a traced SIGUSR1 the parent sends stops the target;
# then PCRUN.
CTLPROG = r"""
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static int put(int fd, long code, long arg, int has) {
    long m[2] = {code, arg};
    return (int)write(fd, m, has ? 16 : 8);
}
int main(int argc, char **argv) {
    char path[512];
    const char *dir = argv[1], *pid = argv[2];
    unsigned long addr = strtoul(argv[3], 0, 16);
    snprintf(path, sizeof path, "%s/%s/ctl", dir, pid);
    int ctl = open(path, O_WRONLY);
    if (ctl < 0) { perror("open ctl"); return 1; }
    if (put(ctl, 16, 0x200000, 1) != 16 || put(ctl, 1, 0, 0) != 8) { perror("write"); return 1; }
    snprintf(path, sizeof path, "%s/%s/lwp/1/lwpstatus", dir, pid);
    int st = open(path, O_RDONLY);
    unsigned char buf[1296];
    if (st < 0 || pread(st, buf, sizeof buf, 0) != (ssize_t)sizeof buf) { perror("lwpstatus"); return 1; }
    int flags; short why; memcpy(&flags, buf, 4); memcpy(&why, buf + 8, 2);
    printf("stopped flags=%#x why=%d\n", flags, why);
    snprintf(path, sizeof path, "%s/%s/as", dir, pid);
    int as = open(path, O_RDONLY);
    unsigned long v1 = 0, v2 = 0;
    if (as < 0 || pread(as, &v1, 8, addr) != 8) { perror("as"); return 1; }
    usleep(100000);
    pread(as, &v2, 8, addr);
    printf("as counter %lu %lu\n", v1, v2);
    /* PCSTRACE SIGUSR1 (Solaris 16: bit 15 of the sigset_t), then PCRUN */
    unsigned char tr[24] = {0};
    long code = 12; memcpy(tr, &code, 8); tr[8 + 1] = 0x80;
    if (write(ctl, tr, 24) != 24 || put(ctl, 5, 0, 1) != 16) { perror("PCSTRACE/PCRUN"); return 1; }
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        ssize_t n = put(ctl, 3, 0, 0);   /* blocks until the parent's PCDSTOP takes effect */
        printf("child PCWSTOP returned %zd\n", n);
        fflush(stdout);
        _exit(n == 8 ? 0 : 1);
    }
    usleep(300000);
    int status;
    if (waitpid(kid, &status, WNOHANG) != 0) { printf("child did not block\n"); return 1; }
    kill(atoi(pid), SIGUSR1);   /* a traced signal stops the target: the child's PCWSTOP returns */
    waitpid(kid, &status, 0);
    printf("child exit %d\n", WEXITSTATUS(status));
    pread(st, buf, sizeof buf, 0);
    memcpy(&flags, buf, 4);
    printf("stopped again flags=%#x\n", flags);
    if (put(ctl, 5, 1, 1) != 16) { perror("PCRUN"); return 1; }   /* PRCSIG: drop the SIGUSR1 */
    close(ctl);
    printf("done\n");
    return 0;
}
"""

SHELL_SESSION = r"""
set -e
exec 3>"$D/$P/ctl"
printf '\020\0\0\0\0\0\0\0\0\0\040\0\0\0\0\0' >&3     # PCSET PR_RLC
printf '\001\0\0\0\0\0\0\0' >&3                         # PCSTOP
echo "state $(awk '/^State:/ {print $2}' /proc/$P/status)"
echo "flags $(od -A n -t x4 -N 4 "$D/$P/lwp/1/lwpstatus" | tr -d ' ')"
echo "pid $(cat "$D/$P/psinfo" | od -A n -t d4 -j 8 -N 4 | tr -d ' ')"
echo "cwd $(readlink "$D/$P/cwd")"
printf '\005\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >&3         # PCRUN 0
exec 3>&-
ls "$D/$P" | tr '\n' ' '
"""


class Mount:
    def __init__(self, tmp, served: Served) -> None:
        self.dir = tmp / "proc"
        self.dir.mkdir()
        env = dict(os.environ, NATIVE_PROC_SOCKET=served.path)
        self.log = open(tmp / "mount.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "native_proc.cli", "mount", "-f", str(self.dir)],
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        until(lambda: os.path.ismount(self.dir) or self.proc.poll() is not None, timeout=20, what="the mount")
        assert self.proc.poll() is None, (tmp / "mount.log").read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            subprocess.run(["fusermount3", "-u", str(self.dir)], capture_output=True)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.ismount(self.dir):
            subprocess.run(["fusermount3", "-uz", str(self.dir)], capture_output=True)
        self.log.close()


@pytest.fixture
def mounted(tmp_path):
    served = Served(tmp_path)
    m = None
    try:
        m = Mount(tmp_path, served)
        yield m
    finally:
        if m is not None:
            m.stop()
        served.stop()


def msg(code: int, arg: int | None = None) -> bytes:
    return struct.pack("<q", code) + (b"" if arg is None else struct.pack("<q", arg))


def test_a_c_program_drives_a_process_through_the_mount(mounted, cbuild, spawn):
    prog = cbuild(CTLPROG, "-O0", name="ctlprog")
    p, addr = spawn()
    res = subprocess.run([str(prog), str(mounted.dir), str(p.pid), f"{addr:x}"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, (res.stdout, res.stderr)
    lines = res.stdout.splitlines()
    flags = int(lines[0].split()[1].split("=")[1], 16)
    assert flags & 0x3 == 0x3 and flags & PR_RLC and lines[0].endswith("why=1")  # STOPPED|ISTOP, REQUESTED
    c1, c2 = map(int, lines[1].split()[2:])
    assert c1 == c2 > 0  # the counter does not move while stopped, and reads through `as`
    assert lines[2:4] == ["child PCWSTOP returned 8", "child exit 0"]
    again = int(lines[4].split("=")[1], 16)
    assert lines[4].startswith("stopped again") and again & 0x3 == 0x3 and lines[5:] == ["done"]
    until(lambda: host_state(p.pid)[0] == "R", what="the target running after PCRUN")


def test_a_shell_session(mounted, spawn, tmp_path):
    p, _ = spawn()
    res = subprocess.run(["bash", "-c", SHELL_SESSION], env=dict(os.environ, D=str(mounted.dir), P=str(p.pid)),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "state t"
    assert int(lines[1].split()[1], 16) & 0x200003 == 0x200003  # STOPPED|ISTOP|RLC
    assert lines[2] == f"pid {p.pid}"
    assert lines[3] == f"cwd {os.readlink(f'/proc/{p.pid}/cwd')}"
    assert lines[4].split() == sorted(lines[4].split()) and {"ctl", "as", "status", "xmap", "lwp"} <= set(lines[4].split())
    until(lambda: host_state(p.pid)[0] == "R", what="the target running after PCRUN")


def test_a_thousand_open_write_close_cycles(mounted, spawn):
    p, _ = spawn()
    ctl = f"{mounted.dir}/{p.pid}/ctl"
    start = time.monotonic()
    # PR_FORK, not PR_RLC: each last close under PR_RLC releases the process, and seizing it
    # again before the release finished fails EBUSY in the engine (seen without the mount too).
    for _ in range(1000):
        fd = os.open(ctl, os.O_WRONLY)
        try:
            assert os.write(fd, msg(PCSET, PR_FORK)) == 16
        finally:
            os.close(fd)
    took = time.monotonic() - start
    print(f"1000 open/write/close cycles through the mount: {took:.2f} s")
    fd = os.open(ctl, os.O_WRONLY)  # the mount still answers, and still controls
    os.write(fd, msg(PCSET, PR_RLC) + msg(PCSTOP))
    assert host_state(p.pid)[0] == "t"
    os.close(fd)  # PR_RLC: the last close sets it running
    until(lambda: host_state(p.pid)[0] == "R", what="run-on-last-close")
    assert mounted.proc.poll() is None


KILLED_HOLDER = r"""
import os, struct, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, struct.pack("<qq", 16, 0x200000) + struct.pack("<q", 1))  # PCSET PR_RLC, PCSTOP
print("stopped", flush=True)
time.sleep(120)
"""


def test_sigkill_of_a_client_holding_rlc_files(mounted, spawn):
    p, _ = spawn()
    holder = subprocess.Popen([sys.executable, "-c", KILLED_HOLDER, f"{mounted.dir}/{p.pid}/ctl"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "stopped"
        assert host_state(p.pid)[0] == "t"
        holder.kill()
        holder.wait(timeout=10)
        until(lambda: host_state(p.pid)[0] == "R", timeout=20, what="the target running on after the SIGKILL")
        assert mounted.proc.poll() is None
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=10)


def test_exclusive_open_errors_and_other_users(mounted, spawn):
    p, _ = spawn()
    base = f"{mounted.dir}/{p.pid}"
    a = os.open(f"{base}/ctl.excl", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.open(f"{base}/ctl.excl", os.O_WRONLY)
        assert e.value.errno == 16  # EBUSY, as Solaris's O_EXCL
    finally:
        os.close(a)
    b = os.open(f"{base}/ctl.excl", os.O_WRONLY)  # free again after the close
    os.close(b)
    for path, flags, err in ((f"{base}/ctl", os.O_RDONLY, 13), (f"{base}/status", os.O_WRONLY, 13),
                             (f"{mounted.dir}/999999999/status", os.O_RDONLY, 2)):
        with pytest.raises(OSError) as e:
            os.open(path, flags)
        assert e.value.errno == err, path
    fd = os.open(f"{base}/ctl", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, msg(999))
        assert e.value.errno == 22  # EINVAL for an unknown message, from procd
    finally:
        os.close(fd)
    kid = os.fork()
    if kid == 0:  # another user: the mount is private to the one who made it
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.listdir(mounted.dir)
            os._exit(1)
        except PermissionError:
            os._exit(0)
        except BaseException:
            os._exit(2)
    assert os.waitpid(kid, 0)[1] == 0


def test_unmount_and_sigterm_release_what_the_mount_held(tmp_path, spawn):
    served = Served(tmp_path)
    try:
        for how in ("umount", "sigterm"):
            sub = tmp_path / how
            sub.mkdir()
            m = Mount(sub, served)
            try:
                p, _ = spawn()
                fd = os.open(f"{m.dir}/{p.pid}/ctl", os.O_WRONLY)
                os.write(fd, msg(PCSET, PR_RLC) + msg(PCSTOP))
                assert host_state(p.pid)[0] == "t"
                if how == "umount":
                    # while our descriptor is still open: the mount is stopped all the same
                    r = subprocess.run([sys.executable, "-m", "native_proc.cli", "umount", str(m.dir)], cwd=REPO,
                                       capture_output=True, text=True, timeout=60)
                    assert r.returncode == 0, r.stderr
                else:
                    m.proc.send_signal(signal.SIGTERM)
                assert m.proc.wait(timeout=20) == 0, (sub / "mount.log").read_text()
                until(lambda: host_state(p.pid)[0] == "R", timeout=20, what=f"released after {how}")
                with pytest.raises(OSError) as e:
                    os.write(fd, msg(PCSTOP))  # the mount is gone: its files answer ENOTCONN
                assert e.value.errno == 107
                try:
                    os.close(fd)  # flush on close answers ENOTCONN too; the descriptor is gone
                except OSError as ex:
                    assert ex.errno == 107
                until(lambda: not os.path.ismount(m.dir), what=f"unmounted after {how}")
            finally:
                m.stop()
    finally:
        served.stop()
