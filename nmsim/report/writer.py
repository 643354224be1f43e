"""Report documents: sections of prose, tables and figures, written as ``index.html`` (self-contained: figures
embedded as base64 PNG, inline CSS, no scripts), ``report.md``, one CSV per table and one PNG per figure.

:func:`write_report` builds everything in a temporary folder next to the target and renames it into place at
the end, so an error never leaves a partial report behind (an existing report is replaced only on success).
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DPI = 100


@dataclass
class Table:
    name: str            # file stem: <name>.csv
    frame: pd.DataFrame
    caption: str = ""
    formats: dict = field(default_factory=dict)  # column -> format spec for display ("{:.2f}")
    show: bool = True    # False: CSV only
    hide: tuple = ()     # columns left out of the displayed table (still in the CSV)


@dataclass
class Figure:
    name: str            # file stem: <name>.png
    figure: object       # a matplotlib Figure
    caption: str = ""


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)   # paragraphs (plain text with **bold** / `code`)
    items: list = field(default_factory=list)       # Table | Figure, in order


@dataclass
class Report:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def section(self, title: str, *text: str) -> Section:
        s = Section(title, list(text))
        self.sections.append(s)
        return s


def _cell(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "yes" if value else ""
    if fmt:
        try:
            return fmt.format(value)
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def display_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    df = table.frame.drop(columns=[c for c in table.hide if c in table.frame.columns])
    cols = [str(c) for c in df.columns]
    rows = [[_cell(v, table.formats.get(c)) for c, v in zip(df.columns, row)] for row in df.itertuples(index=False)]
    return cols, rows


def markdown_table(table: Table) -> str:
    cols, rows = display_rows(table)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _inline_html(text: str) -> str:
    out = html.escape(text)
    import re
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out


def html_table(table: Table) -> str:
    cols, rows = display_rows(table)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.1em}.subtitle{color:#555;margin-top:0}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0 1.4em 0}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}td:nth-child(-n+3){white-space:nowrap}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0 2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption,.caption{color:#555;font-size:.9em}
code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
nav ul{columns:2}footer{color:#777;font-size:.85em;margin-top:3em;border-top:1px solid #ddd;padding-top:.6em}
"""


def _png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def render(report: Report, pngs: dict[str, bytes]) -> tuple[str, str]:
    """(markdown, html) of ``report``; ``pngs`` maps figure names to PNG bytes."""
    md = [f"# {report.title}", ""]
    if report.subtitle:
        md += [report.subtitle, ""]
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(report.title)}</h1>"]
    if report.subtitle:
        parts.append(f"<p class=\"subtitle\">{_inline_html(report.subtitle)}</p>")
    parts.append("<nav><ul>" + "".join(f"<li><a href=\"#s{i}\">{html.escape(s.title)}</a></li>"
                                       for i, s in enumerate(report.sections)) + "</ul></nav>")
    for i, sec in enumerate(report.sections):
        md += [f"## {sec.title}", ""]
        parts.append(f"<h2 id=\"s{i}\">{html.escape(sec.title)}</h2>")
        for para in sec.text:
            md += [para, ""]
            parts.append(f"<p>{_inline_html(para)}</p>")
        for item in sec.items:
            if isinstance(item, Table):
                if not item.show:
                    md += [f"Table: [`{item.name}.csv`]({item.name}.csv)" + (f" — {item.caption}" if item.caption else ""), ""]
                    continue
                if item.caption:
                    md += [f"*{item.caption}* ([`{item.name}.csv`]({item.name}.csv))", ""]
                    parts.append(f"<p class=\"caption\">{_inline_html(item.caption)} "
                                 f"(<code>{html.escape(item.name)}.csv</code>)</p>")
                md += [markdown_table(item), ""]
                parts.append(html_table(item))
            else:
                data = base64.b64encode(pngs[item.name]).decode("ascii")
                md += [f"![{item.caption or item.name}]({item.name}.png)", ""]
                if item.caption:
                    md += [f"*{item.caption}*", ""]
                parts.append(f"<figure><img alt=\"{html.escape(item.name)}\" src=\"data:image/png;base64,{data}\">"
                             f"<figcaption>{_inline_html(item.caption)}</figcaption></figure>")
    if report.footer:
        md += ["---", report.footer, ""]
        parts.append(f"<footer>{_inline_html(report.footer)}</footer>")
    parts.append("</body></html>")
    return "\n".join(md), "\n".join(parts) + "\n"


def write_report(report: Report, out: str | Path) -> Path:
    """Write ``report`` into folder ``out`` atomically (temp folder next to it, then rename)."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        pngs: dict[str, bytes] = {}
        for sec in report.sections:
            for item in sec.items:
                if isinstance(item, Table):
                    item.frame.to_csv(tmp / f"{item.name}.csv", index=False, float_format="%.6g")
                else:
                    pngs[item.name] = _png_bytes(item.figure)
                    plt.close(item.figure)
                    (tmp / f"{item.name}.png").write_bytes(pngs[item.name])
        md, page = render(report, pngs)
        (tmp / "report.md").write_text(md)
        (tmp / "index.html").write_text(page)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
