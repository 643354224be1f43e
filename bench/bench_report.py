"""Report page benchmarks: size of index.html and its time to render in headless Chromium.

1. Build the default study without the trainer sweep (``nmsim report --no-train``: 11 plans x 5 recipes x 9
   accelerators) and split ``index.html`` into plotly.js (embedded gzip+base64), the data blob and the rest.
   Compared with the static page of the last committed example before the page became interactive
   (``reports/default/index.html`` at commit c986293: seven base64 PNGs and HTML tables), when git has it.
2. Time to render: Playwright drives Debian's Chromium (the system binary; the network off), loads the page
   ``REPEATS`` times and takes the medians of ``window.nmsim.renderMs`` (navigation start -> every chart
   drawn) and of unpacking + evaluating plotly.js. Skipped with a message where chromium or playwright is
   missing. Goals: page <= 3 MB; render <= 5 s (a loaded 2-core machine; an idle desktop is several times
   faster).

``run()`` returns one dict per measurement; ``python bench/bench_report.py`` prints them.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC_COMMIT = "c986293"
REPEATS = 5
SIZE_GOAL_BYTES = 3_000_000
RENDER_GOAL_MS = 5000.0


def _static_page_bytes() -> int | None:
    try:
        res = subprocess.run(["git", "show", f"{STATIC_COMMIT}:reports/default/index.html"], cwd=ROOT,
                             capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len(res.stdout) if res.returncode == 0 else None


def _render_times(page: Path, repeats: int) -> dict | None:
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench_report: playwright not installed; render time skipped", file=sys.stderr)
        return None
    if chromium is None:
        print("bench_report: no chromium on PATH (apt-get install -y chromium); render time skipped", file=sys.stderr)
        return None
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--no-first-run", "--disable-dev-shm-usage"]
    render, plotly, load = [], [], []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, headless=True, executable_path=chromium, args=flags,
                                                    offline=True, viewport={"width": 1280, "height": 900})
        for _ in range(repeats):
            pg = ctx.new_page()
            pg.goto(page.as_uri(), wait_until="load")
            pg.wait_for_function("window.nmsim && window.nmsim.ready", timeout=120_000)
            render.append(pg.evaluate("window.nmsim.renderMs"))
            plotly.append(pg.evaluate("window.nmsim.timings.plotlyMs"))
            load.append(pg.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            pg.close()
        version = ctx.browser.version if ctx.browser else "?"
        ctx.close()
    return {"render_ms": statistics.median(render), "plotly_ms": statistics.median(plotly),
            "load_event_ms": statistics.median(load), "browser": f"chromium {version}", "repeats": repeats}


def run() -> list[dict]:
    from nmsim.report.study import StudyOptions, run_study

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = run_study(StudyOptions(train=False), Path(tmp) / "report", echo=lambda *_: None)
        build_s = time.perf_counter() - start
        page = out / "index.html"
        text = page.read_text(encoding="utf-8")
        total = page.stat().st_size
        part = lambda pat: len(re.search(pat, text, re.S).group(1).encode())  # noqa: E731
        plotly_b = part(r'id="nm-plotly-gz">(.*?)</script>')
        data_b = part(r'id="nmsim-data">(.*?)</script>')
        static = _static_page_bytes()
        rows.append({"bench": "report_page", "what": "index.html bytes (default study, --no-train)",
                     "value": total, "plotly_js_bytes": plotly_b, "data_blob_bytes": data_b,
                     "rest_bytes": total - plotly_b - data_b, "static_page_bytes": static,
                     "ratio_vs_static": round(total / static, 2) if static else None,
                     "goal": f"<= {SIZE_GOAL_BYTES:,} bytes", "goal_met": total <= SIZE_GOAL_BYTES})
        rows.append({"bench": "report_build", "what": "nmsim report --no-train seconds (tables, PNGs, page)",
                     "value": round(build_s, 1), "goal": "<= 300 s (make report)", "goal_met": build_s <= 300})
        times = _render_times(page, REPEATS)
        if times is not None:
            rows.append({"bench": "report_render", "what": "ms to render every chart (median)",
                         "value": round(times["render_ms"]), "plotly_unpack_eval_ms": round(times["plotly_ms"]),
                         "load_event_ms": round(times["load_event_ms"]), "browser": times["browser"],
                         "repeats": times["repeats"], "load_avg_1min": round(os.getloadavg()[0], 1),
                         "goal": f"<= {RENDER_GOAL_MS:.0f} ms",
                         "goal_met": times["render_ms"] <= RENDER_GOAL_MS})
    return rows


if __name__ == "__main__":
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(pd.DataFrame(run()).to_string(index=False))
