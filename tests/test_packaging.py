"""The package as a user gets it: a wheel built from the checkout, installed into a fresh venv
outside it, runs its commands with its data files; the metadata says what it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                          "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and "No module named" in res.stderr:
        pytest.skip(f"cannot build a wheel here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr
    (w,) = out.glob("lxbrand-*.whl")
    return w


def test_wheel_holds_data_files_license_and_markers(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lxbrand/conform/limitations.toml" in names
    assert "lxbrand/preload.c" in names
    for pkg in ("structs", "native_proc", "lxbrand", "bsd"):
        assert f"{pkg}/py.typed" in names, pkg
    assert "lxbrand/tracefmt/decode.py" in names
    meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(meta_name).decode())
    assert meta["License"] == "MIT" or "MIT" in (meta.get("License-Expression") or "")
    assert "License :: OSI Approved :: MIT License" in meta.get_all("Classifier")
    assert meta.get_all("Project-URL")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "lxbrand trace" in meta.get_payload()  # the README is the long description
    assert any(n.endswith(".dist-info/LICENSE") or "licenses/LICENSE" in n for n in names), names


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with the wheel installed (dependencies from the same
    index the project's venv used)."""
    root = tmp_path_factory.mktemp("venv")
    v = root / "v"
    subprocess.run([sys.executable, "-m", "venv", str(v)], check=True, timeout=300)
    res = subprocess.run([str(v / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return v


def _run(venv: Path, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NATIVE_PROC_SOCKET")}
    # A procd address of this venv's own: the user's well-known one may be served by the
    # procd other tests started, and `status` must find nobody there.
    _run.calls = getattr(_run, "calls", 0) + 1  # a new address per command: none left in its grace
    env["NATIVE_PROC_SOCKET"] = str(venv.parent / f"np{_run.calls}" / "procd.sock")
    env["XDG_CACHE_HOME"] = str(venv.parent / "cache")  # lxbrand run's compiled glue
    # run from a directory that holds no checkout: only the installed package can be imported
    return subprocess.run([str(venv / "bin" / cmd[0]), *cmd[1:]], cwd=venv.parent, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(900)  # with the module's wheel and venv set-up (pip), on a loaded 2-core machine
def test_installed_commands(venv):
    res = _run(venv, "python", "-c", "import lxbrand, native_proc; print(lxbrand.__file__)")
    assert res.returncode == 0 and str(venv) in res.stdout, (res.stdout, res.stderr)
    res = _run(venv, "lxbrand", "--version")
    assert res.returncode == 0 and res.stdout.strip() == "lxbrand 0.1.0", res
    res = _run(venv, "native-proc", "--version")
    assert res.returncode == 0 and res.stdout.strip() == "native-proc 0.1.0", res
    res = _run(venv, "lxbrand", "trace", "true")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith('execve("/usr/bin/true", ["true"]') and res.stderr.endswith("+++ exited with 0 +++\n")
    res = _run(venv, "native-proc", "status")  # no procd listening: says so, nothing started
    assert res.returncode == 1 and "no procd is running" in res.stderr, res
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        res = _run(venv, "native-proc", "status", str(sleeper.pid))  # a private procd looks
        assert res.returncode == 0, res.stderr
        assert str(sleeper.pid) in res.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    if shutil.which("strace"):
        # the installed glue source, compiled into the (private) cache, under a real strace
        res = _run(venv, "lxbrand", "run", "--", "strace", "-qq", "-e", "trace=exit_group", "true")
        assert res.returncode == 0 and "exit_group(0)" in res.stderr, res
    res = _run(venv, "lxbrand", "conform", "-k", "traceme")
    assert res.returncode == 0, res.stdout + res.stderr
    assert " passed, 0 failed" in res.stdout


def test_a_missing_data_file_is_an_error(venv):
    """load_limitations names the missing file instead of declaring nothing."""
    code = ("from pathlib import Path; from lxbrand.conform import runner;\n"
            "runner.load_limitations(Path('/nonexistent/limitations.toml'))")
    res = _run(venv, "python", "-c", code)
    assert res.returncode != 0 and "FileNotFoundError" in res.stderr and "limitations.toml" in res.stderr


def test_another_structs_first_on_the_path_fails_loudly(tmp_path, venv):
    fake = tmp_path / "structs"
    fake.mkdir()
    (fake / "__init__.py").write_text("# someone else's structs\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    res = subprocess.run([str(venv / "bin" / "python"), "-c", "import native_proc"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "another distribution's" in res.stderr and str(fake) in res.stderr
