"""The report's ``index.html``: one self-contained page to explore, working offline.

Each :class:`~nmsim.report.writer.Table` becomes a sortable, filterable table; each :class:`Chart` an
interactive plotly chart with filters, axis choices, hover details and (where asked) a Pareto front that the
page recomputes for the rows the filters leave. A :class:`~nmsim.report.writer.Figure` with a ``chart`` shows
the chart in the page and its PNG in ``report.md``; one without shows the PNG.

All data sits in one JSON blob, ``<script type="application/json" id="nmsim-data">``::

    {"title": ..., "datasets": {NAME: {"columns": [...], "rows": [[...], ...]}},
     "charts": [{"id": ..., "dataset": NAME, "kind": ..., "x": [...], "y": [...], ...}],
     "tables": [{"id": ..., "dataset": NAME, "columns": [...], "display": [[...], ...]}]}

built from the same DataFrames that write the CSVs and ``report.md`` (a chart drawn from a table's frame
shares its dataset; a table's ``display`` strings are the markdown's cells). plotly.js comes from the
pip-installed ``plotly`` package, embedded gzip-compressed (base64) and unpacked by the browser's
``DecompressionStream``; the page's own script is ``explore.js`` beside this module. Nothing is fetched.

Adding a section from a DataFrame (clusters, trainer evidence, ...)::

    from nmsim.report.interactive import Chart, add_frame_section
    add_frame_section(report, "Clusters: time to train", frame, name="cluster_runs",
                      text="One row per system x recipe ...",
                      chart=Chart(kind="scatter", x="train_seconds", y="accuracy", color="system",
                                  filters=("system", "recipe"), hover=("nodes", "bound"),
                                  pareto=("min", "max"), log_x=True))

The frame is written as ``<name>.csv``, listed in ``report.md`` and shown in the page as the chart above a
sortable table; see :class:`Chart` for the chart's fields.
"""
from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

KINDS = ("scatter", "line", "bar")
SENSES = ("min", "max")


@dataclass
class Chart:
    """An interactive chart of a DataFrame's columns.

    ``kind``: ``scatter`` (one point per row), ``line`` (rows joined in ``x`` order per trace, optional band
    ``band=(low_column, high_column)``; both: error bars ``errors=(low_column, high_column)``) or ``bar`` (``x`` categories, optionally inside ``group`` categories;
    ``stack`` columns stacked, else ``color`` values stacked). ``x`` / ``y``: a column, or a tuple of columns
    the reader picks from (the first is shown first). ``color`` / ``symbol`` / ``dash``: columns whose values
    split the traces. ``filters``: columns the reader filters on (check boxes; ``initial`` maps a column to
    the values checked at load, all by default). ``hover``: columns listed on hover (columns missing from the
    frame are skipped, so optional ones can be named). ``pareto``: ``(x_sense, y_sense)`` with ``min``/``max``:
    the non-dominated points among the visible ones are drawn as a front. ``lines``: reference lines, dicts
    ``{"axis": "x"|"y", "value": v, "label": text}`` (with ``"column": c``: only while ``c`` is on that axis). ``labels``: column -> axis/hover label.
    ``colors``: value of ``color`` -> CSS colour (others take a palette's colours in order).
    """
    kind: str = "scatter"
    name: str = ""      # page id and data name of a chart that is not a Figure's (default: from the title)
    x: str | tuple = ""
    y: str | tuple = ""
    color: str | None = None
    symbol: str | None = None
    dash: str | None = None
    group: str | None = None
    stack: tuple = ()
    band: tuple | None = None
    errors: tuple | None = None
    filters: tuple = ()
    initial: dict = field(default_factory=dict)
    hover: tuple = ()
    pareto: tuple | None = None
    log_x: bool = False
    log_y: bool = False
    lines: tuple = ()
    labels: dict = field(default_factory=dict)
    colors: dict = field(default_factory=dict)
    title: str = ""
    frame: pd.DataFrame | None = None   # the rows drawn (add_frame_section sets it)

    def spec(self, dataset: str, chart_id: str, frame: pd.DataFrame) -> dict:
        """The chart's JSON (validated against ``frame``)."""
        xs, ys = self._axes(chart_id)
        self._check(chart_id, frame, xs + ys)
        return {"id": chart_id, "dataset": dataset, "kind": self.kind, "x": xs, "y": ys, "color": self.color,
                "symbol": self.symbol, "dash": self.dash, "group": self.group, "stacked": bool(self.stack),
                "band": _list_or_none(self.band), "errors": _list_or_none(self.errors), "filters": list(self.filters),
                "initial": {k: [_jsonable(v) for v in vals] for k, vals in self.initial.items()},
                "hover": [c for c in self.hover if c in frame.columns],
                "pareto": _list_or_none(self.pareto), "log_x": self.log_x, "log_y": self.log_y,
                "lines": [dict(line) for line in self.lines], "labels": dict(self.labels),
                "colors": {str(k): v for k, v in self.colors.items()}, "title": self.title}

    def _axes(self, chart_id: str) -> tuple[list, list]:
        """The x and y column choices (a stacked bar's y: its stack columns)."""
        if self.kind not in KINDS:
            raise ValueError(f"chart {chart_id}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        xs, ys = _options(self.x), _options(self.y)
        return xs, list(self.stack) if self.kind == "bar" and self.stack else ys

    def _check(self, chart_id: str, frame: pd.DataFrame, axes: list) -> None:
        """Every column the chart names is in ``frame``; ``pareto`` is two senses."""
        need = axes + [c for c in (self.color, self.symbol, self.dash, self.group) if c] + list(self.filters) + \
            list(self.band or ()) + list(self.errors or ())
        missing = [c for c in dict.fromkeys(need) if c not in frame.columns]
        if missing:
            raise ValueError(f"chart {chart_id}: no column(s) {', '.join(missing)} in its frame "
                             f"(has {', '.join(map(str, frame.columns))})")
        if self.pareto is not None and (len(self.pareto) != 2 or any(s not in SENSES for s in self.pareto)):
            raise ValueError(f"chart {chart_id}: pareto must be (x_sense, y_sense) with min/max, got {self.pareto}")


def _list_or_none(value) -> list | None:
    return list(value) if value else None


def _options(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def add_frame_section(report, title: str, frame: pd.DataFrame, *, name: str, chart: Chart | None = None,
                      text: str | list[str] = (), caption: str = "", formats: dict | None = None,
                      show_table: bool = True):
    """Append a section showing ``frame``: ``<name>.csv``, a table in ``report.md`` and a sortable one in the
    page (``show_table=False``: CSV only), and ``chart`` (if given) drawn from the same frame. Returns the
    section; call before ``write_report``."""
    from nmsim.report.writer import Table

    sec = report.section(title, *([text] if isinstance(text, str) else list(text)))
    if chart is not None:
        chart.frame = frame
        chart.name = chart.name or name
        chart.title = chart.title or caption
        sec.items.append(chart)
    sec.items.append(Table(name, frame, caption, formats=dict(formats or {}), show=show_table))
    return sec


# ---- data --------------------------------------------------------------------------------------------------

def _jsonable(v):
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if v is pd.NA or v is pd.NaT:
        return None
    return str(v)


def dataset(frame: pd.DataFrame) -> dict:
    """``{"columns": [...], "rows": [[...]]}`` with NaN/inf as null, numpy scalars as JSON numbers."""
    return {"columns": [str(c) for c in frame.columns],
            "rows": [[_jsonable(v) for v in row] for row in frame.itertuples(index=False, name=None)]}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def build_blob(report) -> tuple[dict, list]:
    """(the page's JSON blob, the page's layout: per section a list of ("table"|"chart"|"png", item, id))."""
    from nmsim.report.writer import Figure, Table, display_rows

    datasets: dict[str, dict] = {}
    by_frame: dict[int, str] = {}

    def key_for(frame: pd.DataFrame, name: str) -> str:
        if id(frame) in by_frame:
            return by_frame[id(frame)]
        k, n = name, 2
        while k in datasets:
            k, n = f"{name}-{n}", n + 1
        datasets[k] = dataset(frame)
        by_frame[id(frame)] = k
        return k

    # tables first, so a chart drawn from a table's frame shares its dataset name
    for sec in report.sections:
        for item in sec.items:
            if isinstance(item, Table) and (item.show or any(
                    _chart_of(o) is not None and _chart_of(o).frame is item.frame for o in sec.items)):
                key_for(item.frame, item.name)
    charts, tables, layout, ids = [], [], [], set()
    precision = number_formats(report)

    def new_id(base: str) -> str:
        k, n = base, 2
        while k in ids:
            k, n = f"{base}-{n}", n + 1
        ids.add(k)
        return k

    for sec in report.sections:
        parts = []
        for item in sec.items:
            if isinstance(item, Table):
                if not item.show:
                    continue
                cols, rows = display_rows(item)
                tid = new_id(f"table-{_slug(item.name)}")
                tables.append({"id": tid, "dataset": key_for(item.frame, item.name), "caption": item.caption,
                               "name": item.name, "columns": cols, "display": rows})
                parts.append(("table", item, tid))
                continue
            chart = _chart_of(item)
            if chart is None:
                parts.append(("png", item, None))
                continue
            name = item.name if isinstance(item, Figure) else (chart.name or _slug(chart.title or "chart"))
            if chart.frame is None:
                raise ValueError(f"chart {name}: no frame (pass Chart(frame=...))")
            cid = new_id(f"chart-{_slug(name)}")
            spec = chart.spec(key_for(chart.frame, name), cid, chart.frame)
            shown = spec["x"] + spec["y"] + spec["hover"]
            spec["formats"] = {c: precision[c] for c in shown if c in precision}   # hover at the tables' precision
            charts.append(spec)
            parts.append(("chart", item, cid))
        layout.append(parts)
    blob = {"title": report.title, "datasets": datasets, "charts": charts, "tables": tables}
    return blob, layout


def number_formats(report) -> dict:
    """Column -> ``{"kind": "f"|"g", "digits": n}`` from the report's table formats (``{:.3f}``, ``{:.4g}``),
    the first table naming a column deciding, so a chart's hover rounds as the tables do."""
    from nmsim.report.writer import Table

    out: dict = {}
    for sec in report.sections:
        for item in sec.items:
            if not isinstance(item, Table):
                continue
            for col, fmt in item.formats.items():
                m = re.fullmatch(r"\{:,?\.(\d+)([fg])\}", fmt) if isinstance(fmt, str) else None
                if m and str(col) not in out:
                    out[str(col)] = {"kind": m.group(2), "digits": int(m.group(1))}
    return out


def _chart_of(item):
    if isinstance(item, Chart):
        return item
    return getattr(item, "chart", None)


# ---- page --------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def plotly_gzip_b64() -> tuple[str, str]:
    """(plotly.js version, base64 of gzip(plotly.min.js)) from the installed plotly package."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    m = re.search(r"plotly\.js v([0-9][0-9.]*)", js[:2000])
    return (m.group(1) if m else "?"), base64.b64encode(gzip.compress(js.encode("utf-8"), 9, mtime=0)).decode()


@functools.lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (resources.files("nmsim.report") / name).read_text(encoding="utf-8")


def _script_json(obj) -> str:
    """JSON safe inside <script>: no '</' or '<!--' can end or confuse the element."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")


def page(report, pngs: dict[str, bytes]) -> str:
    """The whole ``index.html`` of ``report`` (``pngs``: figure name -> PNG bytes for figures without a
    chart)."""
    from nmsim.report.writer import inline_html

    blob, layout = build_blob(report)
    version, plotly_b64 = plotly_gzip_b64() if blob["charts"] else ("", "")
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(report.title)}</title><style>{_asset('explore.css')}</style></head><body>",
           f"<h1>{esc(report.title)}</h1>"]
    if report.subtitle:
        out.append(f'<p class="subtitle">{inline_html(report.subtitle)}</p>')
    out.append('<noscript><p class="nm-error">The charts and tables of this page need JavaScript; report.md '
               "and the CSV files beside it hold the same tables.</p></noscript>")
    out.append('<p id="nm-status" class="nm-status">Loading charts…</p>')
    out.append("<nav><ul>" + "".join(f'<li><a href="#s{i}">{esc(s.title)}</a></li>'
                                     for i, s in enumerate(report.sections)) + "</ul></nav>")
    for i, (sec, parts) in enumerate(zip(report.sections, layout)):
        out.append(f'<section><h2 id="s{i}">{esc(sec.title)}</h2>')
        out += [f"<p>{inline_html(p)}</p>" for p in sec.text]
        for kind, item, ident in parts:
            caption = getattr(item, "caption", "") or getattr(item, "title", "")
            if kind == "table":
                out.append(f'<p class="caption">{inline_html(item.caption)} (<code>{esc(item.name)}.csv</code>)</p>'
                           if item.caption else "")
                out.append(f'<div class="nm-table" id="{ident}"></div>')
            elif kind == "chart":
                out.append(f'<figure class="nm-figure"><div class="nm-controls" id="{ident}-controls"></div>'
                           f'<div class="nm-chart" id="{ident}"></div><p class="nm-front" id="{ident}-front"></p>'
                           f"<figcaption>{inline_html(caption)}</figcaption></figure>")
            else:
                data = base64.b64encode(pngs[item.name]).decode("ascii")
                out.append(f'<figure><img alt="{esc(item.name)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{inline_html(caption)}</figcaption></figure>")
        out.append("</section>")
    footer = report.footer + (" " if report.footer else "") + \
        (f"Charts: plotly.js {version} (MIT licence), embedded; the page fetches nothing." if version else "")
    if footer.strip():
        out.append(f"<footer>{inline_html(footer)}</footer>")
    out.append(f'<script type="application/json" id="nmsim-data">{_script_json(blob)}</script>')
    if blob["charts"]:   # a page of tables only needs no plotly.js
        out.append(f'<script type="application/octet-stream" id="nm-plotly-gz">{plotly_b64}</script>')
    out.append(f"<script>{_asset('explore.js')}</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
