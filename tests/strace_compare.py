"""Run a program under real strace and under `lxbrand trace` with the same options, normalise
what differs between any two runs (pids, addresses, times, random bytes), and compare the two
logs line by line.  Used by tests/test_trace_strace.py and, for the figures, by
`python -m tests.strace_compare` (prints per case the lines identical to strace's)."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "strace_corpus"
STRACE = "/usr/bin/strace"


@dataclass
class Case:
    name: str
    source: str  # file in tests/strace_corpus
    options: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    gcc: tuple[str, ...] = ("-O0",)
    per_pid: bool = False  # -f: compare each process's lines in order (interleaving is timing)
    summary: bool = False  # -c: compare calls and errors per call (times and their order vary)
    xfail: str = ""  # a known difference (reason)
    figures_only: bool = False  # timing-dependent (signals racing calls): printed, not a test


CASES = [
    Case("files", "files.c", args=("{tmp}",)),
    Case("files-y", "files.c", ("-y",), args=("{tmp}",)),
    Case("strings", "strings.c"),
    Case("strings-x", "strings.c", ("-x",)),
    Case("strings-xx-s8", "strings.c", ("-xx", "-s", "8")),
    Case("signals", "signals.c"),
    Case("signals-segv", "signals.c", args=("segv",)),
    Case("signals-abort", "signals.c", args=("abort",)),
    Case("memory", "memory.c"),
    Case("sockets", "sockets.c"),
    Case("trace-file", "files.c", ("-e", "trace=%file"), args=("{tmp}",)),
    Case("trace-not-desc", "files.c", ("-e", "trace=!%desc,%memory"), args=("{tmp}",)),
    Case("trace-names", "signals.c", ("-e", "trace=kill,rt_sigaction,%signal", "-e", "signal=!SIGUSR2")),
    Case("status-failed", "files.c", ("-Z",), args=("{tmp}",)),
    Case("status-ok", "files.c", ("-z",), args=("{tmp}",)),
    Case("quiet", "signals.c", ("-qq",), args=("segv",)),
    Case("procs-f", "procs.c", ("-f",), per_pid=True),
    # futex calls depend on whether the join comes before the thread's end: timing, not decoding
    Case("threads-f", "threads.c", ("-f", "-e", "trace=!futex"), per_pid=True),
    Case("hello32", "hello32.c", gcc=("-O0", "-m32")),
    Case("times-T", "memory.c", ("-T",)),
    Case("times-t", "memory.c", ("-t",)),
    Case("times-tt", "memory.c", ("-tt", "-e", "trace=%memory")),
    Case("times-ttt-T", "signals.c", ("-ttt", "-T")),
    Case("summary-c", "files.c", ("-c",), args=("{tmp}",), summary=True),
    Case("summary-c-f", "threads.c", ("-c", "-f"), summary=True),
    Case("ff-f-o", "threads.c", ("-f", "-e", "trace=write,exit,getpid"), per_pid=True),
    Case("verbose", "files.c", ("-v",), args=("{tmp}",)),
    # real programs of this machine (a path instead of a corpus source)
    Case("ls", "/bin/ls", args=("-l", "/etc/hostname", "/")),
    Case("cat", "/bin/cat", args=("/etc/hostname",)),
    Case("sh-f", "/bin/sh", ("-f",), args=("-c", "true; /bin/true; echo x | cat >/dev/null"), per_pid=True,
         figures_only=True),
    Case("python3", "/usr/bin/python3", args=("-S", "-c", "pass")),
]

_PID_SOURCES = [
    re.compile(r"^(\d+) "),
    re.compile(r"^\[pid +(\d+)\] "),
    re.compile(r"\b(?:getpid|gettid|getppid)\(\)\s+= (\d+)"),
    re.compile(r"\bset_tid_address\(0x[0-9a-f]+\)\s+= (\d+)"),
    re.compile(r"\b(?:fork|vfork|clone|clone3)\(.*\)\s+= (\d+)"),
    re.compile(r"<\.\.\. (?:fork|vfork|clone|clone3) resumed>.*\)\s+= (\d+)"),
    re.compile(r"\bwait4\(.*\)\s+= (\d+)"),
    re.compile(r"PID=(\d+)"),
    re.compile(r"si_pid=(\d+)"),
]


def normalise(lines: list[str], verbose: bool = False) -> list[str]:
    """Pids become <pid1>, <pid2>... in the order learned; addresses, times and random bytes a
    placeholder.  Anything else is compared as printed."""
    pids: dict[str, str] = {}
    for line in lines:
        for rx in _PID_SOURCES:
            for m in rx.finditer(line):
                pids.setdefault(m.group(1), f"<pid{len(pids) + 1}>")
    out = []
    for line in lines:
        if pids:
            new = re.sub(r"\b(" + "|".join(map(re.escape, pids)) + r")\b", lambda m: pids[m.group(1)], line)
            if new != line:  # a pid's width moved the result column: compare unpadded
                new = re.sub(r"\) +(= \S)", r") \1", new)
            line = new
        new = re.sub(r"0x[0-9a-f]{6,}", "0xADDR", line)
        if new != line:  # an address's width moved the result column: compare unpadded
            new = re.sub(r"\) +(= \S)", r") \1", new)
        line = new
        if verbose:  # -v: what differs between two runs' files (inodes, times)
            line = re.sub(r"(st_ino|st_[amc]time_nsec|st_[amc]time)=\d+( /\* [^*]+ \*/)?", r"\1=N", line)
            line = re.sub(r"\) +(= \S)", r") \1", line)
        line = re.sub(r"sysinfo\(\{uptime=.*\}\)", "sysinfo({...})", line)
        line = re.sub(r"<\d+\.\d+>", "<T>", line)
        line = re.sub(r"/#\d+>", "/#INODE>", line)  # O_TMPFILE's name is its inode number
        line = re.sub(r"si_(utime|stime)=\d+", r"si_\1=T", line)
        line = re.sub(r'getrandom\("[^"]*"', 'getrandom("R"', line)
        # -t, -tt, -ttt: the time of day / epoch seconds at the start (after a -f pid)
        line = re.sub(r"^((?:<pid\d+> +)?)(?:\d\d:\d\d:\d\d(?:\.\d{6})?|\d{9,}\.\d{6}) ",
                      lambda m: m.group(1) + "T" + ("tt" if "." in m.group(0) else "") + " ", line)
        out.append(line)
    return out


def summary_rows(lines: list[str]) -> list[str]:
    """A -c table as `name calls errors` rows (sorted by name: the time order varies), plus
    the header and rule lines as printed."""
    rows, fixed = [], []
    for line in lines:
        parts = line.split()
        if len(parts) >= 5 and re.fullmatch(r"\d+\.\d\d", parts[0]):
            name = parts[-1]
            errors = parts[4] if len(parts) == 6 else ""
            rows.append(f"{name} calls={parts[3]} errors={errors or 0}")
        else:
            fixed.append(line)
    return fixed + sorted(rows)


@dataclass
class Result:
    case: Case
    strace: list[str]
    lx: list[str]
    same: int = 0
    diff: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.strace)


def _by_pid(lines: list[str]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for line in lines:
        m = re.match(r"^(<pid\d+>) +(.*)$", line)
        key, text = (m.group(1), m.group(2)) if m else ("?", line)
        groups.setdefault(key, []).append(text)
    out = []
    for key in sorted(groups):
        lines_ = _join_resumed(groups[key])
        # A SIGCHLD comes before or after the parent's wait4 as the child's exit races it: that
        # is timing, so SIGCHLD lines are compared as a list of their own.
        chld = [t for t in lines_ if t.startswith("--- SIGCHLD ")]
        out += [f"{key} {t}" for t in lines_ if not t.startswith("--- SIGCHLD ")]
        out += [f"{key} {t}" for t in chld]
    return out


def _join_resumed(lines: list[str]) -> list[str]:
    """Within one process: `X <unfinished ...>` + `<... name resumed>Y` -> one line X+Y (where
    another process's line came in between is timing, not decoding)."""
    out: list[str] = []
    for line in lines:
        m = re.match(r"^<\.\.\. \w+ resumed>(.*)$", line)
        if m and out and out[-1].endswith(" <unfinished ...>"):
            head = out.pop()[: -len(" <unfinished ...>")]
            body, _, ret = m.group(1).rpartition("= ")
            out.append(head + body.rstrip() + " = " + ret)
        else:
            out.append(line)
    return out


def build(case: Case, work: Path) -> Path:
    if case.source.startswith("/"):
        return Path(case.source)
    exe = work / case.source.replace(".c", "-" + "-".join(f.strip("-") for f in case.gcc))
    if not exe.exists():
        cmd = ["gcc", *case.gcc, "-o", str(exe), str(CORPUS / case.source), "-lpthread"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run_case(case: Case, work: Path, python: str = sys.executable, timeout: float = 120) -> Result:
    """Both runs of one case, normalised and compared."""
    exe = build(case, work)
    logs = []
    tmp = work / "run"
    for tool in ("strace", "lx"):
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        args = [a.replace("{tmp}", str(tmp)) for a in case.args]
        log = work / f"{case.name}.{tool}"
        opts = list(case.options)
        cmd = ([STRACE] if tool == "strace" else [python, "-m", "lxbrand.cli", "trace"])
        cmd += ["-o", str(log), *opts, "--", str(exe), *args]
        env = {k: v for k, v in os.environ.items() if k != "NATIVE_PROC_SOCKET"}
        subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=timeout, env=env)
        text = log.read_text() if log.exists() else ""
        logs.append(normalise(text.replace(str(tmp), "{tmp}").splitlines(), "-v" in case.options))
    a, b = logs
    if case.summary:
        a, b = summary_rows(a), summary_rows(b)
    if case.per_pid:
        a, b = _by_pid(a), _by_pid(b)
    res = Result(case, a, b)
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    res.same = sum(bl.size for bl in sm.get_matching_blocks())
    res.diff = [d for d in difflib.unified_diff(a, b, "strace", "lxbrand trace", n=0, lineterm="")]
    return res


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="strace-corpus-"))
    names = sys.argv[1:]
    tot_same = tot = 0
    for case in CASES:
        if names and case.name not in names:
            continue
        r = run_case(case, work)
        tot_same += r.same
        tot += r.total
        print(f"{case.name:<18} {r.same:4d} of {r.total:4d} strace lines identical"
              + (f"   (xfail: {case.xfail})" if case.xfail else ""))
        if names:
            print("\n".join(r.diff[:60]))
    print(f"{'total':<18} {tot_same:4d} of {tot:4d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
