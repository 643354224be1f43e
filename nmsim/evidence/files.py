"""The bookkeeping files of a protocol folder, read and checked before any work (training or summaries).

``protocol.json`` (``{"protocol": {...}, "command": ..., "environment": {...}}``) and ``timing.json`` (a list of
one entry per ``evidence run`` invocation) are nmsim's; the run folders under ``protocol-runs/`` are checked by
:func:`nmsim.train.checkpoint.check_run_folder`. Damage is one :class:`UserError` naming the file (and field):
a damaged protocol cannot be rebuilt (it is what the runs were asked to be), a damaged timing log is refused so
that it is never silently replaced.
"""
from __future__ import annotations

import math
from pathlib import Path

from nmsim.errors import UserError

TOP_KEYS = ("protocol", "command", "environment")
REQUIRED = ("task", "recipes", "patterns", "seeds")
# timing.json entry field -> (required, kind): kind "count" (an integer >= 0), "number" (>= 0) or "text"
TIMING_FIELDS = {"started_utc": (True, "text"), "wall_seconds": (True, "number"), "workers": (True, "count"),
                 "device": (True, "text"), "cpu_seconds": (False, "number"), "loadavg_1m_start": (True, "number"),
                 "loadavg_1m_end": (True, "number"), "runs_finished": (False, "count"),
                 "runs_failed": (False, "count"), "stopped": (False, "text")}


def read_protocol_file(path: str | Path):
    """(protocol, the whole protocol.json) of ``path``; UserError naming the file and field."""
    from nmsim.evidence.protocol import Protocol
    from nmsim.io import load_json
    from nmsim.io.read import check_fields, short_repr

    path = Path(path)
    where = str(path)
    data = load_json(path, "protocol", expect=dict, allow_nan=True)
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown or not isinstance(data.get("protocol"), dict):
        why = f"unknown field {unknown[0]!r}" if unknown else "needs a 'protocol' object"
        raise UserError(f"not an nmsim protocol file ({why})", where)
    if "command" in data and not isinstance(data["command"], str):
        raise UserError(f"must be text, got {short_repr(data['command'])}", f"{where}: command")
    if "environment" in data and not isinstance(data["environment"], dict):
        raise UserError(f"must be an object, got {short_repr(data['environment'])}", f"{where}: environment")
    fields = data["protocol"]
    check_fields(fields, Protocol, f"{where}: protocol")
    missing = [k for k in REQUIRED if k not in fields]
    if missing:
        raise UserError(f"missing field {missing[0]!r}", f"{where}: protocol")
    _check_geometric_k(fields, where)
    proto = Protocol.from_dict(fields)
    _check_values(proto, where)
    return proto, data


def _check_geometric_k(fields: dict, where: str) -> None:
    k = fields.get("geometric_k") or {}
    for plan, value in k.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"must be a positive integer, got {value!r}", f"{where}: protocol.geometric_k.{plan}")
    try:
        from nmsim.sparsity.plan import SparsityPlan
        for plan in k:
            SparsityPlan.parse(plan, "geometric_k") if ":" in plan else SparsityPlan.from_slug(plan, "geometric_k")
    except UserError as exc:
        raise UserError(exc.message, f"{where}: protocol.geometric_k") from None


def _check_values(p, where: str) -> None:
    """What the summaries use: lists of names, a seed count, a known metric, a level, a reference recipe."""
    from nmsim.evidence.stats import METRICS

    at = f"{where}: protocol"
    for key in ("recipes", "patterns"):
        items = getattr(p, key)
        if not items or not all(isinstance(x, str) and x.strip() for x in items):
            raise UserError("must be a non-empty list of names", f"{at}.{key}")
    checks = (("seeds", p.seeds >= 1, "a positive integer"),
              ("metric", p.metric in METRICS, f"one of {', '.join(METRICS)}"),
              ("level", 0 < p.level < 1, "in (0, 1)"),
              ("reference", p.reference in p.recipes, "one of the protocol's recipes"),
              ("epochs", p.epochs is None or p.epochs >= 1, "a positive integer or null"))
    for key, ok, want in checks:
        if not ok:
            raise UserError(f"must be {want}, got {getattr(p, key)!r}", f"{at}.{key}")
    try:
        from nmsim.evidence.protocol import plan_labels
        plan_labels(p.patterns)
    except UserError as exc:
        raise UserError(exc.message, f"{at}.patterns") from None


def read_timing(path: str | Path) -> list[dict]:
    """The invocations recorded in ``timing.json`` (none when it does not exist); UserError naming the file and
    entry when it is damaged (nothing is written over it)."""
    from nmsim.io import load_json
    from nmsim.io.read import short_repr

    path = Path(path)
    if not path.exists():
        return []
    where = str(path)
    rows = load_json(path, "timing log", expect=list)
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise UserError(f"entry {n}: expected an object, got {short_repr(row)}", where)
        unknown = sorted(set(row) - set(TIMING_FIELDS))
        if unknown:
            raise UserError(f"entry {n}: unknown field {unknown[0]!r}; not an nmsim timing log", where)
        for key, (required, kind) in TIMING_FIELDS.items():
            if key not in row:
                if required:
                    raise UserError(f"entry {n}: missing field {key!r}; not an nmsim timing log", where)
                continue
            v = row[key]
            ok = isinstance(v, str) if kind == "text" else (
                not isinstance(v, bool) and isinstance(v, int if kind == "count" else (int, float))
                and math.isfinite(v) and v >= 0)
            if not ok:
                want = {"text": "text", "count": "an integer >= 0", "number": "a number >= 0"}[kind]
                raise UserError(f"entry {n}: {key} must be {want}, got {short_repr(v)}", where)
    return rows
