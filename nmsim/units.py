"""Numbers for people: SI prefixes (``1.2 TFLOP``), durations (``59.6 h``), binary sizes (``74.5 GiB``) and
positional digits that never turn into e-notation (``0.0000175``, ``547,200``). Tables (:mod:`nmsim.cli.table`),
progress lines (:mod:`nmsim.progress`) and messages use them; CSV/JSON stay raw SI.
"""
from __future__ import annotations

import math
import re

_SI = ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


_NEGATIVE_ZERO = re.compile(r"\s*-[0.,]+(?![\d.,]*[1-9])")   # '-0.00', '-0 B': a minus before nothing but zeros


def formatted(spec: str, value: float) -> str:
    """``spec.format(value)``, but a negative value that rounds to zero reads as zero (``0.00``, ``+0.00`` with a
    sign), never ``-0.00``: every format spec for people goes through here."""
    text = spec.format(value)
    return spec.format(0.0) if _NEGATIVE_ZERO.match(text) else text


def fixed(v: float, digits: int = 3) -> str:
    """``digits`` significant digits in positional notation, never ``1e-05``/``1e+03``: 0.0000175, 1,234."""
    a = abs(v)
    if not math.isfinite(v):
        return str(v)
    if a >= 10 ** digits - 0.5:
        return f"{v:,.0f}"
    if a == 0:
        return "0"
    if a < 1e-9:          # below a billionth: 0 (CSV/JSON keep the value)
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{v:.{decimals}f}"
    if len(text.lstrip("-").replace(".", "").lstrip("0")) > digits:   # rounding carried into a new digit
        text = f"{v:.{max(0, decimals - 1)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def si(v: float, unit: str = "") -> str:
    """SI prefixes, 3 significant digits: ``47.4 EFLOP`` style (``si(4.74e19) == '47.4 E'``)."""
    for scale, prefix in _SI:
        if abs(v) >= scale * 0.9995:      # 999.7e9 is 1 T, not 1,000 G
            return f"{fixed(v / scale)} {prefix}{unit}".rstrip()
    if unit and 0 < abs(v) < 0.9995:
        for scale, prefix in ((1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
            if abs(v) >= scale * 0.9995:
                return f"{fixed(v / scale)} {prefix}{unit}"
    return f"{fixed(v)} {unit}".rstrip()


def duration(v: float) -> str:
    """Seconds as ns / us / ms / s / min / h / d (``59.6 h``)."""
    a = abs(v)
    for limit, div, unit in ((1e-6, 1e-9, "ns"), (1e-3, 1e-6, "us"), (1, 1e-3, "ms"), (120, 1, "s"),
                             (7200, 60, "min"), (864000, 3600, "h")):
        if a < limit:
            return f"{fixed(v / div)} {unit}"
    return f"{fixed(v / 86400)} d"


def binary(v: float) -> str:
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(v) >= scale:
            return f"{fixed(v / scale, 4 if v / scale >= 1000 else 3)} {unit}"
    return formatted("{:.0f} B", v)


NOT_GIVEN = "not given"


def joules(v: float) -> str:
    """Energy with SI prefixes (``3.82 J``); NaN (a spec without energy figures) reads ``not given``, never 0 J."""
    return NOT_GIVEN if v is None or not math.isfinite(v) else si(v, "J")


def dollars(v: float) -> str:
    """``$1,234``, ``$12.3``, ``$0.0456``; NaN (no price) reads ``not given``."""
    if v is None or not math.isfinite(v):
        return NOT_GIVEN
    return f"${si(v)}" if abs(v) >= 1e6 else f"${fixed(v, 3)}"
