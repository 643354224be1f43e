"""Report documents: sections of prose, tables, figures and charts, written as ``index.html`` (one self-contained
page to explore, offline: see :mod:`nmsim.report.interactive`), ``report.md``, one CSV per table and one PNG
per figure.

:func:`write_report` builds everything in a temporary folder next to the target and renames it into place at
the end, so an error never leaves a partial report behind. An existing report is replaced only on success and
only if nmsim wrote it (marker file ``.nmsim-report``); a user's own folder or file at the target is an error.
"""
from __future__ import annotations

import html
import io
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nmsim.units import formatted

DPI = 100


@dataclass
class Table:
    name: str            # file stem: <name>.csv
    frame: pd.DataFrame
    caption: str = ""
    formats: dict = field(default_factory=dict)  # column -> format spec for display ("{:.2f}") or a function
    show: bool = True    # False: CSV only
    hide: tuple = ()     # columns left out of the displayed table (still in the CSV)


@dataclass
class Figure:
    name: str            # file stem: <name>.png
    figure: object       # a matplotlib Figure
    caption: str = ""
    chart: object = None  # an interactive.Chart shown in index.html instead of the PNG (report.md keeps the PNG)


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)   # paragraphs (plain text with **bold** / `code`)
    items: list = field(default_factory=list)       # Table | Figure | interactive.Chart, in order


@dataclass
class Report:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""
    files: dict = field(default_factory=dict)   # path in the folder -> its bytes or a file copied (trainer runs)

    def section(self, title: str, *text: str) -> Section:
        s = Section(title, list(text))
        self.sections.append(s)
        return s


#: columns whose missing value is a figure nobody gave (a spec without energy figures, a device without a price)
NOT_GIVEN = ("energy", "joules", "usd")


def _cell(value, fmt: str | None, column: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not given" if any(w in str(column) for w in NOT_GIVEN) else "–"
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "yes" if value else ""
    if callable(fmt):   # a function of the value, e.g. nmsim.report.length.human
        return fmt(value)
    if fmt:
        try:
            return formatted(fmt, value)
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def display_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    from nmsim.bands import fold_display
    df = table.frame.drop(columns=[c for c in table.hide if c in table.frame.columns])
    cols, raw = fold_display([str(c) for c in df.columns], [list(r) for r in df.itertuples(index=False)],
                             table.formats)   # each figure's 80 % band as one 'COL 80%' column
    rows = [[_cell(v, table.formats.get(c), c) for c, v in zip(cols, row)] for row in raw]
    return cols, rows


def markdown_table(table: Table) -> str:
    cols, rows = display_rows(table)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def inline_html(text: str) -> str:
    out = html.escape(text)
    import re
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out


def _png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def render(report: Report, pngs: dict[str, bytes]) -> tuple[str, str]:
    """(markdown, html) of ``report``; ``pngs`` maps figure names to PNG bytes."""
    from nmsim.report.interactive import Chart, page

    md = [f"# {report.title}", ""]
    if report.subtitle:
        md += [report.subtitle, ""]
    for sec in report.sections:
        md += [f"## {sec.title}", ""]
        for para in sec.text:
            md += [para, ""]
        for item in sec.items:
            if isinstance(item, Table):
                if not item.show:
                    md += [f"Table: [`{item.name}.csv`]({item.name}.csv)" + (f" — {item.caption}" if item.caption else ""), ""]
                    continue
                if item.caption:
                    md += [f"*{item.caption}* ([`{item.name}.csv`]({item.name}.csv))", ""]
                md += [markdown_table(item), ""]
            elif isinstance(item, Chart):
                md += [f"*Interactive chart in index.html{': ' + item.title if item.title else ''}.*", ""]
            else:
                md += [f"![{item.caption or item.name}]({item.name}.png)", ""]
                if item.caption:
                    md += [f"*{item.caption}*", ""]
    if report.footer:
        md += ["---", report.footer, ""]
    return "\n".join(md), page(report, pngs)


def write_report(report: Report, out: str | Path) -> Path:
    """Write ``report`` into folder ``out`` atomically (temp folder next to it, then rename).

    An existing ``out`` is replaced only if it is a report nmsim wrote (it holds the ``.nmsim-report`` marker) or
    an empty folder; any other folder or file there is a one-line error and is left untouched.
    """
    import matplotlib.pyplot as plt

    from nmsim.io import install_folder, temp_folder

    with temp_folder(out) as tmp:     # removed if anything below fails or is interrupted
        pngs: dict[str, bytes] = {}
        for sec in report.sections:
            for item in sec.items:
                if isinstance(item, Table):
                    item.frame.to_csv(tmp / f"{item.name}.csv", index=False, float_format="%.6g")
                elif isinstance(item, Figure):
                    pngs[item.name] = _png_bytes(item.figure)
                    plt.close(item.figure)
                    (tmp / f"{item.name}.png").write_bytes(pngs[item.name])
        for rel, src in report.files.items():   # a file's bytes, or a file to copy
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, bytes):
                (tmp / rel).write_bytes(src)
            else:
                shutil.copyfile(src, tmp / rel)
        md, page = render(report, pngs)
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "index.html").write_text(page, encoding="utf-8")
        return install_folder(tmp, out)
