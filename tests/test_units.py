"""nmsim.units: human numbers never in e-notation, and close to the value they stand for."""
from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from nmsim.units import binary, duration, fixed, formatted, si

finite = st.floats(min_value=-1e30, max_value=1e30, allow_nan=False, allow_infinity=False)
PREFIX = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "m": 1e-3,
          "u": 1e-6, "n": 1e-9, "p": 1e-12, "": 1}


def test_examples():
    assert [fixed(v) for v in (1.747e-05, 999.5, 999.4, 0.9996, 547200.3, -0.0006369, 12.0, 0)] == \
        ["0.0000175", "1,000", "999", "1", "547,200", "-0.000637", "12", "0"]
    assert fixed(3.516e-05, 4) == "0.00003516" and fixed(1.2345, 4) == "1.234"
    assert si(4.74e19, "FLOP") == "47.4 EFLOP" and si(999.7e9, "FLOP") == "1 TFLOP" and si(5.1e9, "J") == "5.1 GJ"
    assert si(7.4e-5, "J") == "74 uJ" and si(3e3) == "3 k"
    assert duration(59.6 * 3600) == "59.6 h" and duration(0.0123) == "12.3 ms" and duration(1e12) == "11,574,074 d"
    assert binary(80e9) == "74.5 GiB" and binary(10) == "10 B"


@given(finite)
def test_fixed_is_positional_and_close(v):
    text = fixed(v, 3)
    assert "e" not in text.lower()
    if abs(v) >= 1e-9:
        back = float(text.replace(",", ""))
        assert math.isclose(back, v, rel_tol=0.006, abs_tol=0.6 if abs(v) >= 999.5 else 0)


@given(finite)
def test_si_is_positional_and_close(v):
    text = si(v, "FLOP")
    m = re.fullmatch(r"(-?[\d,.]+) ([YZEPTGMkmunp]?)FLOP", text)
    assert m, text
    back = float(m.group(1).replace(",", "")) * PREFIX[m.group(2)]
    assert math.isclose(back, v, rel_tol=0.006, abs_tol=0.006)


@given(st.floats(min_value=0, max_value=1e15))
def test_duration_is_positional(v):
    assert re.fullmatch(r"[\d,.]+ (ns|us|ms|s|min|h|d)", duration(v)), duration(v)


SPECS = ("{:+.2f}", "{:.2f}", "{:.1f} %", "{:+.1f} GiB", "{:,.0f}", "{:.3f}", "{:+.4f}")


@given(st.sampled_from(SPECS), finite)
def test_no_negative_zero(spec, v):
    """A small negative value that rounds to zero reads as zero ('+0.00' with a sign), never '-0.00'; any
    other value reads as the spec writes it."""
    text = formatted(spec, v)
    assert not re.match(r"-[0.,]+(?![\d.,]*[1-9])", text), text
    assert text == (spec.format(0.0) if float(re.sub(r"[^\d.eE+-]", "", spec.format(v))) == 0 else spec.format(v))
    assert not binary(v).startswith("-0 ")


def test_negative_zero_examples():
    """The report's trainer table printed '-0.00' for mdgf-exp ff=1:8 (vs_dense_pct -0.0004)."""
    from nmsim.report.trainer_section import SUMMARY_FORMATS
    from nmsim.report.writer import _cell

    assert _cell(-0.0004, SUMMARY_FORMATS["vs_dense_pct"]) == "+0.00"
    assert _cell(-0.0051, SUMMARY_FORMATS["vs_dense_pct"]) == "-0.01"
    assert _cell(-0.004, SUMMARY_FORMATS["accuracy_pct"]) == "0.00"
    assert [formatted("{:.2f} %", -0.001), binary(-0.3), formatted("{:+.1f} GiB", -0.04)] == \
        ["0.00 %", "0 B", "+0.0 GiB"]
