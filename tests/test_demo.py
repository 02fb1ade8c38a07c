"""The README's main job: a real traced process's registers printed through the schemas."""

from __future__ import annotations

import re

from lxbrand.cli import main


def test_demo_prints_exec_stop_registers(capsys):
    assert main(["demo", "/bin/true"]) == 0
    out = capsys.readouterr().out
    assert "status 0x057f" in out  # the SIGTRAP after exec under TRACEME
    assert re.search(r"orig_rax 0x000000000000003b", out)  # stopped on its way out of execve (59)
    assert re.search(r"REG_CS 0x0000000000000033", out)  # 64-bit user code selector, illumos slot 18
    assert "exit status 0x0" in out
