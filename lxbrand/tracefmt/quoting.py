"""strace's string quoting, byte for byte (checked against strace 6.1 in tests/test_trace_strace.py).

Default style: `\\"`, `\\\\` and the C escapes `\\f \\n \\r \\t \\v`; printable ASCII as is; any other
byte in octal, with the shortest digits unless an octal digit follows (then three digits, so the
escape cannot swallow it).  `-x`: if the string holds any byte that is neither printable nor one
of those five C escapes, the whole string prints as `\\xHH`; `-xx`: always `\\xHH`.
"""

from __future__ import annotations

__all__ = ["quote"]

_ESC = {0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v", 0x22: '\\"', 0x5C: "\\\\"}
_PLAIN = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0B, 0x0C, 0x0D}


def quote(data: bytes, truncated: bool = False, xflag: int = 0) -> str:
    """`data` quoted as strace prints it (`"..."`), followed by `...` when `truncated`.
    `xflag` is the number of -x options given (0, 1 or 2)."""
    if xflag >= 2 or (xflag == 1 and not _PLAIN.issuperset(data)):
        body = "".join(f"\\x{c:02x}" for c in data)
    else:
        out = []
        n = len(data)
        for i, c in enumerate(data):
            esc = _ESC.get(c)
            if esc is not None:
                out.append(esc)
            elif 0x20 <= c < 0x7F:
                out.append(chr(c))
            elif i + 1 < n and 0x30 <= data[i + 1] <= 0x37:
                out.append(f"\\{c:03o}")
            else:
                out.append(f"\\{c:o}")
        body = "".join(out)
    return f'"{body}"...' if truncated else f'"{body}"'
