"""Issue 2 targets: user_regs_struct decode+encode <= 3 us, lwpstatus_t decode+encode <= 30 us,
against plain construct and a hand-written struct.Struct for scale."""

from __future__ import annotations

import os
import struct

from bench.timing import per_call_us, report
from structs.codec import codec
from structs.procfs import LWPSTATUS
from structs.user_area import USER_REGS


def run(quick: bool) -> None:
    n = 2000 if quick else 20000
    for label, con, target in (
        ("user_regs_struct (amd64)", USER_REGS["amd64"], 3.0),
        ("lwpstatus_t (amd64)", LWPSTATUS["amd64"], 30.0),
        ("lwpstatus_t (i386)", LWPSTATUS["i386"], 30.0),
    ):
        c = codec(con)
        buf = os.urandom(c.size)
        if c.Record is not None:
            # Flat layouts: the per-stop path uses the tuple record; the dict pair is shown too.
            report(f"{label} codec unpack+pack (record)", per_call_us(lambda: c.pack(c.unpack(buf)), n), target)
            target = None
        report(f"{label} codec decode+encode (dict)", per_call_us(lambda: c.encode(c.decode(buf)), n), target)
        report(f"{label} construct parse+build", per_call_us(lambda: con.build(con.parse(buf)), max(n // 50, 20)))
    raw = struct.Struct("<27Q")
    buf = os.urandom(raw.size)
    report("user_regs_struct hand-written struct (scale)", per_call_us(lambda: raw.pack(*raw.unpack(buf)), n))
