"""Human-readable text for cluster plans, budgets and validation (fits 100 columns; CSV/JSON stay raw SI)."""
from __future__ import annotations

import textwrap

import pandas as pd

from nmsim.cluster.layout_space import LAYOUT_COLUMNS, TIME_PARTS, plan_columns, with_unit  # noqa: F401
from nmsim.memory.layout import COMPONENTS
from nmsim.cluster.plan import GIB, PlanResult, layout_label
from nmsim.units import dollars, formatted


WIDTH = 100


def _wrap(lines: list[str]) -> str:
    """Lines longer than 100 columns wrapped, continuation lines indented under their first word."""
    out = []
    for line in lines:
        if len(line) <= WIDTH:
            out.append(line)
            continue
        indent = " " * min(len(line) - len(line.lstrip()) + 4, 13)
        out += textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False)
    return "\n".join(out) + "\n"


def _s(x: float) -> str:
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} us"


def plan_rows(res: PlanResult, top: int) -> pd.DataFrame:
    """The ``top`` ranked layouts as raw numbers (for CSV/JSON); the run's columns NaN when not priced."""
    from nmsim import bands
    rows = res.table.head(top).reindex(columns=list(LAYOUT_COLUMNS))
    return bands.attach(rows, bands.for_system(res.run.system)).rename(columns=with_unit)


def plan_text(res: PlanResult, top: int) -> str:
    t = res.table
    lines = [f"priced: {res.described}",
             f"{len(t):,} layouts x {len(res.phases)} recipe phase(s) priced in {res.seconds:.2f} s "
             f"({res.layouts_per_second:,.0f} layout-phases/s); {int(t['fits'].sum()):,} fit in "
             f"{res.run.system.device_spec().main_memory.capacity_gib:.1f} GiB per device", ""]
    lines.append(f"{'#':>2}  {'layout':<56} {'step':>9} {'MFU':>6} {'memory':>9} {'headroom':>9}")
    for i, r in t.head(top).iterrows():
        head = formatted("{:+.1f} GiB", r["headroom_bytes"] / GIB)
        lines.append(f"{i + 1:>2}  {layout_label(r):<56} {_s(r['step_seconds']):>9} {r['mfu'] * 100:>5.1f}% "
                     f"{r['mem_total'] / GIB:>5.1f} GiB {head:>9}")
        if not r["fits"]:
            lines.append(f"    does not fit: {r['overflow']}")
    b = t.iloc[0]
    m, slots, batch = int(b["m"]), int(b["m"] * b["mb"] * b["dp"]), res.run.global_batch
    rounded = f"; rounded up: {slots:,} slots for {batch:,} sequences" if slots != batch else ""
    lines += ["", f"best: {layout_label(b)} ({m} micro-batch{'es' if m > 1 else ''} per step{rounded})",
              "  step time  " + ", ".join(f"{k.replace('_', ' ')} {_s(b[k])}" for k in TIME_PARTS if b[k] > 0),
              "  memory     " + ", ".join(f"{k} {b[f'mem_{k}'] / GIB:.2f} GiB" for k in COMPONENTS
                                          if b[f"mem_{k}"] > 0)]
    lines.append("  losses     " + res.run.losses.summary(res.run.compute_efficiency))
    if "usd" in t and pd.notna(b.get("days")):
        lines.append(f"  run        {res.steps:,} steps: {_duration(b['days'] * 86400)} wall-clock, "
                     f"{b['device_hours']:,.0f} device-hours, {dollars(b['usd'])} at the device-hours' price")
    if len(res.phases) > 1:
        lines.append("  phases     " + "; ".join(f"{lab} ({n:,} steps)" for lab, n, _ in res.phases))
    from nmsim import bands
    band = bands.for_system(res.run.system)
    lines.append("  80 % band  " + (f"step {_s(b['step_seconds'] * band.lo)}-{_s(b['step_seconds'] * band.hi)}, "
                                    f"MFU {b['mfu'] / band.hi * 100:.1f}-{b['mfu'] / band.lo * 100:.1f}%; "
                                    + band.text() if band else bands.NOT_VALIDATED))
    return _wrap(lines)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.2f} {unit}"
    return _s(seconds)


def _energy(joules: float) -> str:
    for unit, size in (("GWh", 3.6e12), ("MWh", 3.6e9), ("kWh", 3.6e6)):
        if joules >= size:
            return f"{joules / size:.1f} {unit}"
    return f"{joules / 3.6e3:.1f} Wh"


def _count(x: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if float(f"{x:.3g}") >= size:      # rounded first: 999.99e9 tokens read 1T, not 1e+03B
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def budget_text(df: pd.DataFrame, described: str) -> str:
    lines = [f"priced: {described}", ""]
    lines.append(f"{'recipe':<15}{'wall-clock':>11}{'device-hours':>13}{'MFU':>7}{'energy':>10}{'iso-time tok':>14}"
                 f"{'iso-FLOP tok':>14}{'memory':>10}")
    for r in df.itertuples():
        lines.append(f"{r.recipe:<15}{_duration(r.days * 86400):>11}{r.device_hours:>13,.0f}{r.mfu * 100:>6.1f}%"
                     f"{_energy(r.energy_joules):>10}{_count(r.iso_time_tokens):>14}{_count(r.iso_flop_tokens):>14}"
                     f"{r.mem_gib:>6.1f} GiB")
    lines.append("")
    for r in df.itertuples():
        lines.append(f"{r.recipe}: {r.layout}; {r.steps:,} steps of {_s(r.step_seconds)}, {_count(r.tokens)} tokens; "
                     f"{dollars(r.usd)} at the device-hours' price")
    lines.append(f"wall-clock and device-hours: steps x step time / goodput {df['goodput'].iloc[0]:g} (restarts, "
                 "failures, evaluation).")
    lines += _band_lines(df)
    lines.append("energy: node max power x nodes x wall-clock. MFU: dense model FLOPs / (devices x peak x step time).")
    lines.append("iso-time / iso-FLOP: tokens the recipe trains in the first recipe's wall-clock / executed FLOPs")
    lines.append("(its phases stretched to the longer run).")
    return _wrap(lines)


def _band_lines(df: pd.DataFrame) -> list[str]:
    """Each recipe's 80 % band (nmsim.bands) on wall-clock, device-hours, $ and energy, or 'not validated'."""
    if "days_lo" not in df.columns:
        return []
    lines = []
    for r in df.to_dict("records"):
        if r["band_rows"] == 0:
            lines.append(f"{r['recipe']}: 80 % band not validated (no scored run on this system's device)")
            continue
        usd = (f"{dollars(r['usd_lo'])}-{dollars(r['usd_hi'])}, "
               if "usd_lo" in r and r["usd_lo"] == r["usd_lo"] else "")
        lines.append(f"{r['recipe']}: 80 % band {_duration(r['days_lo'] * 86400)}-{_duration(r['days_hi'] * 86400)}, "
                     f"{r['device_hours_lo']:,.0f}-{r['device_hours_hi']:,.0f} device-hours, {usd}"
                     f"{_energy(r['energy_joules_lo'])}-{_energy(r['energy_joules_hi'])} "
                     f"({r['band_level']}, {r['band_rows']} scored runs)")
    return lines


def validation_text(df: pd.DataFrame, summary: dict) -> str:
    lines = [f"{'run':<27}{'split':<6}{'GPUs':>6} {'layout':<27}{'MFU published':>14}{'predicted':>10}"
             f"{'time err':>9}"]
    for r in df.itertuples():
        lay = r.layout.replace("recompute ", "rc ").replace(" no ZeRO", "").replace("ZeRO-", "Z")
        lay = lay if r.fits else "*" + lay
        lines.append(f"{r.id[:26]:<27}{r.split:<6}{r.devices:>6} {lay[:26]:<27}{r.published_mfu * 100:>13.1f}%"
                     f"{r.predicted_mfu * 100:>9.1f}%{r.error * 100:>+8.1f}%")
    if not df["fits"].all():
        lines.append("* the fastest layout found does not fit in device memory")
    lines.append(f"losses {summary.get('losses', 'calibrated')}. MFU: model fwd+bwd FLOPs / (devices x dense peak x "
                 "time), the published figure converted from its own convention (device-hours: whole-run, "
                 "goodput included). time err: predicted / measured time to train - 1.")
    counts = summary.get("counts", {})
    lines.append(f"MAPE of time to train over {summary['rows']} runs: {summary['mape'] * 100:.1f}%; " +
                 ", ".join(f"{s} runs ({counts.get(s, 0)}) {m * 100:.1f}%" for s, m in summary["splits"].items()))
    if summary["orgs"]:
        lines.append("  scored, by organisation: " + ", ".join(f"{o} {m * 100:.1f}% ({n})"
                                                                for o, (m, n) in summary["orgs"].items()))
    if "fitted" in summary:
        from nmsim.cluster.losses import load_losses
        shipped = load_losses("calibrated").compute_efficiency
        lines.append("fitted on the fit runs (other terms as sourced): compute efficiency " +
                     ", ".join(f"{c} {e:.3f}" for c, e in summary["fitted"].items()) + "; shipped in losses.yaml: " +
                     ", ".join(f"{c} {e:.3f}" for c, e in shipped.items()))
    return _wrap(lines)
