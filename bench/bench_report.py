"""Report page benchmarks: size of index.html and its time to render in headless Chromium.

1. Build the default study without the trainer sweep (``nmsim report --no-train``: 11 plans x 5 recipes x 9
   accelerators) and split ``index.html`` into plotly.js (embedded gzip+base64), the data blob and the rest.
   Compared with the static page of the last committed example before the page became interactive
   (``reports/default/index.html`` at commit c986293: seven base64 PNGs and HTML tables), when git has it.
2. Time to render: Playwright drives Debian's Chromium (the system binary; the network off), loads each page
   ``REPEATS`` times and takes medians of the wall time until every chart is drawn (``window.nmsim.renderMs``,
   from navigation start; the load event for the static page) and of the renderer's main-thread CPU seconds
   (DevTools ``ThreadTime``), which other load on a shared machine changes little: on an idle core the wall
   time is about that CPU time. Skipped with a message where chromium or playwright is missing. Goals: page
   <= 3 MB; main-thread CPU to render <= 2.5 s.
3. ``make report`` as a user meets it (issue 25): the command the Makefile runs, each time a fresh process.
   Cold: an empty nmsim cache and the committed ``reports/default`` as a fresh clone has it (its kept trainer
   runs); warm: the same command again (the cache and the report folder it left). ``MAKE_ROUNDS`` rounds, cold
   and warm alternated; medians of wall and CPU seconds (the process and its children), the load average read
   before and after each call. Goals: cold <= 60 s, warm <= 15 s.

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
MAKE_ROUNDS = 3
GOAL_COLD_S, GOAL_WARM_S = 60.0, 15.0
SIZE_GOAL_BYTES = 3_000_000
RENDER_GOAL_CPU_S = 2.5


def _static_page() -> bytes | None:
    try:
        res = subprocess.run(["git", "show", f"{STATIC_COMMIT}:reports/default/index.html"], cwd=ROOT,
                             capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


def _render_times(pages: list[Path], repeats: int) -> list[dict] | None:
    """Per page: medians over ``repeats`` loads of the wall time to render (ms from navigation start until
    ``window.nmsim.ready``, or the load event for a page without charts) and of the renderer's main-thread and
    process CPU seconds (Chrome DevTools Performance metrics; little affected by other load on the machine)."""
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
    results = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, headless=True, executable_path=chromium, args=flags,
                                                    offline=True, viewport={"width": 1280, "height": 900})
        for page in pages:
            wall, thread, process, plotly = [], [], [], []
            for _ in range(repeats):
                pg = ctx.new_page()
                cdp = ctx.new_cdp_session(pg)
                cdp.send("Performance.enable")
                before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                pg.goto(page.as_uri(), wait_until="load")
                pg.wait_for_function("!document.getElementById('nmsim-data') || (window.nmsim && window.nmsim.ready)",
                                     timeout=120_000)
                after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                charts = pg.evaluate("!!(window.nmsim && window.nmsim.ready)")
                wall.append(pg.evaluate("window.nmsim.renderMs") if charts else
                            pg.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
                plotly.append(pg.evaluate("window.nmsim.timings.plotlyMs") if charts else 0.0)
                thread.append(after.get("ThreadTime", float("nan")) - before.get("ThreadTime", 0.0))
                process.append(after.get("ProcessTime", float("nan")) - before.get("ProcessTime", 0.0))
                pg.close()
            results.append({"render_ms": statistics.median(wall), "plotly_ms": statistics.median(plotly),
                            "thread_cpu_s": statistics.median(thread), "process_cpu_s": statistics.median(process)})
        version = ctx.browser.version if ctx.browser else "?"
        ctx.close()
    for r in results:
        r.update(browser=f"chromium {version}", repeats=repeats)
    return results


def _make_report_once(cache: Path, out: Path) -> dict:
    """One ``make report`` (its command) into ``out`` with nmsim cache ``cache``: wall, CPU and load."""
    import resource

    from cli_env import cli_env

    make = re.search(r"^report:.*\n\t\$\(PY\) -m nmsim (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    env = cli_env({"NMSIM_CACHE_DIR": str(cache)})
    env.pop("NMSIM_CACHE", None)
    before_load, cpu0 = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "nmsim", *make, "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode:
        raise RuntimeError(f"make report failed: {res.stderr.strip().splitlines()[-1:]}")
    trained = re.search(r"(\d+) trained", res.stdout)
    return {"wall": wall, "cpu": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
            "load": (round(before_load, 1), round(os.getloadavg()[0], 1)),
            "trained": int(trained.group(1)) if trained else 0, "kept": ", kept" in res.stdout}


def make_report_rows(rounds: int = MAKE_ROUNDS) -> list[dict]:
    """``make report`` cold (empty cache, the committed report folder) and warm, alternated, medians."""
    runs: dict = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            cache, out = Path(tmp) / f"cache{i}", Path(tmp) / f"clone{i}" / "default"
            shutil.copytree(ROOT / "reports" / "default", out)   # what a fresh clone holds
            runs["cold"].append(_make_report_once(cache, out))
            runs["warm"].append(_make_report_once(cache, out))
    rows = []
    for kind, goal in (("cold", GOAL_COLD_S), ("warm", GOAL_WARM_S)):
        r = runs[kind]
        wall = statistics.median(x["wall"] for x in r)
        rows.append({"bench": f"make report, {kind}", "what": "wall s (median)" if kind == "cold" else
                     "wall s (median), second call", "value": round(wall, 1),
                     "cpu_s": round(statistics.median(x["cpu"] for x in r), 1), "repeats": rounds,
                     "load": ", ".join(f"{a}-{b}" for a, b in (x["load"] for x in r)),
                     "note": f"trained {sum(x['trained'] for x in r)} runs; cost tables kept "
                             f"{sum(x['kept'] for x in r)} of {rounds}",
                     "goal": f"<= {goal:g} s", "goal_met": wall <= goal})
    return rows


def run() -> list[dict]:
    from nmsim.report.study import StudyOptions, run_study

    rows = make_report_rows()
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
        static = _static_page()
        rows.append({"bench": "report_page", "what": "index.html bytes (default study, --no-train)",
                     "value": total, "plotly_js_bytes": plotly_b, "data_blob_bytes": data_b,
                     "rest_bytes": total - plotly_b - data_b, "static_page_bytes": len(static) if static else None,
                     "ratio_vs_static": round(total / len(static), 2) if static else None,
                     "goal": f"<= {SIZE_GOAL_BYTES:,} bytes", "goal_met": total <= SIZE_GOAL_BYTES})
        rows.append({"bench": "report_build", "what": "nmsim report --no-train seconds (tables, PNGs, page)",
                     "value": round(build_s, 1), "goal": "<= 300 s (make report)", "goal_met": build_s <= 300})
        pages = [page]
        if static:
            (Path(tmp) / "static.html").write_bytes(static)
            pages.append(Path(tmp) / "static.html")
        times = _render_times(pages, REPEATS)
        load = round(os.getloadavg()[0], 1)
        for t, label in zip(times or [], ("interactive page: every chart drawn", f"static page ({STATIC_COMMIT})")):
            rows.append({"bench": "report_render", "what": f"{label}: wall ms (median)", "value": round(t["render_ms"]),
                         "renderer_thread_cpu_s": round(t["thread_cpu_s"], 2),
                         "renderer_process_cpu_s": round(t["process_cpu_s"], 2),
                         "plotly_unpack_eval_ms": round(t["plotly_ms"]), "browser": t["browser"],
                         "repeats": t["repeats"], "load_avg_1min": load,
                         "goal": f"main-thread CPU <= {RENDER_GOAL_CPU_S:g} s",
                         "goal_met": t["thread_cpu_s"] <= RENDER_GOAL_CPU_S})
    return rows


if __name__ == "__main__":
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(pd.DataFrame(run()).to_string(index=False))
