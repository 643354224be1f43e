"""The report's index.html driven in a real browser: Debian's headless Chromium through Playwright for Python
(launched on the system binary, no browser download), one browser and one page load for the module, the
network off.

Checked: every chart renders its points; filters change the visible points and the Pareto front, which equals
``nmsim.report.pareto.pareto_mask`` on the same rows; hover shows the numbers and what executed; tables sort
and filter; no console errors; no request leaves the file. ``.ci/run`` installs chromium; these tests skip only
where that install was impossible (``NMSIM_BROWSER_SKIP`` holds the reason) or, outside CI, where no chromium
is installed. Under ``CI=true`` a missing browser is a failure, not a skip. Run against Chromium 150 and 156
(Debian bookworm's release and its security update).
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread

from nmsim.report.pareto import pareto_mask

CHROMIUM = os.environ.get("NMSIM_CHROMIUM") or next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
SKIP_REASON = os.environ.get("NMSIM_BROWSER_SKIP")
try:
    import playwright.sync_api  # noqa: F401
    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False
if SKIP_REASON:
    pytestmark = pytest.mark.skip(reason=f"browser tests: {SKIP_REASON}")
elif not os.environ.get("CI") and (CHROMIUM is None or not HAVE_PLAYWRIGHT):
    pytestmark = pytest.mark.skip(reason="browser tests need `chromium` on PATH (apt-get install -y chromium) and "
                                         "playwright (pip install -e '.[dev]')")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
HW = ("a100-sxm4-80gb", "ideal-nm")
TOP1 = "top1_pct"   # the bundled ViT-B results' metric: the headline column is named after it


def _fake_runs(root):
    """Two seeds of two recipes (3 evaluations each): the trainer section with seed bands."""
    for recipe, sparsity, base in (("dense", "{}", 0.80), ("sr-ste", '{"ff": "1:8"}', 0.70)):
        for seed in (0, 1):
            d = root / "digits" / recipe / ("dense" if recipe == "dense" else "ff1_8") / f"seed{seed}"
            d.mkdir(parents=True)
            (d / "config.json").write_text(f'{{"task": "digits", "recipe": "{recipe}", "sparsity": {sparsity}, '
                                           f'"seed": {seed}}}')
            rows = [{"step": s, "epoch": s / 10, "train_flops": s * 1e9 * (1 if recipe == "dense" else 0.8),
                     "accuracy": base + 0.05 * s / 10 + 0.02 * seed} for s in (10, 20, 30)]
            (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


SWEEP_RUNS = """task,recipe,pattern,seed,accuracy,train_flops
digits,dense,dense,0,0.96,100
digits,dense,dense,1,0.98,100
digits,sr-ste,ff1_8,0,0.95,80
digits,sr-ste,ff1_8,1,0.99,80
digits,mdgf-exp,ff1_8,0,0.90,90
digits,mdgf-exp,ff1_8,1,0.92,90
hard,dense,dense,0,0.50,200
hard,sr-ste,ff1_8,0,0.40,160
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from nmsim.report.study import StudyOptions, run_study

    tmp = tmp_path_factory.mktemp("browser")
    _fake_runs(tmp / "runs")
    (tmp / "sweep_runs.csv").write_text(SWEEP_RUNS)
    out = run_study(StudyOptions(patterns="1:8,1:16,ff=1:8+qk=1:4", recipes="sr-ste,mdgf-exp",
                                 hardware=",".join(HW), accuracy=str(tmp / "runs"),
                                 sweep_runs=str(tmp / "sweep_runs.csv"), cluster="gpt2@dgx-a100",
                                 cluster_tokens=1e10), tmp / "report",
                    echo=lambda *_: None)
    text = (out / "index.html").read_text(encoding="utf-8")
    blob = json.loads(re.search(r'<script type="application/json" id="nmsim-data">(.*?)</script>', text, re.S)
                      .group(1))
    return out, blob


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "no chromium on PATH: .ci/run installs it (apt-get install -y chromium)"
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("profile")), headless=True,
                                                    executable_path=CHROMIUM, args=FLAGS, offline=True,
                                                    viewport={"width": 1280, "height": 900}, timeout=180_000)
        ctx.set_default_timeout(120_000)   # Playwright waits 30 s per action by default: short under load
        yield ctx
        ctx.close()


LOCAL = ("file:", "data:", "blob:")   # what the page may load: itself and what it builds in memory


@pytest.fixture(scope="module")
def page(browser, report):
    """The report loaded once with the network off; console messages, page errors, every request Playwright
    sees (page and context), every request the route blocked (anything not local) and every WebSocket recorded.
    The test asserts on these records, not on ``navigator.onLine``: Chromium 150 keeps that true in an offline
    context on a ``file://`` page, Chromium 156 makes it false."""
    out, _ = report
    pg = browser.new_page()
    log = {"console": [], "errors": [], "requests": [], "context_requests": [], "blocked": [], "websockets": []}
    pg.on("console", lambda m: log["console"].append((m.type, m.text)))
    pg.on("pageerror", lambda e: log["errors"].append(str(e)))
    pg.on("request", lambda r: log["requests"].append(r.url))
    pg.on("websocket", lambda ws: log["websockets"].append(ws.url))
    browser.on("request", lambda r: log["context_requests"].append(r.url))

    def block(route):
        log["blocked"].append(route.request.url)
        route.abort()

    browser.route(re.compile(r"^(?!file:|data:|blob:)"), block)
    pg.goto((out / "index.html").as_uri())
    pg.wait_for_function("window.nmsim && (window.nmsim.ready || document.querySelector('.nm-error'))",
                         timeout=120_000)
    assert pg.evaluate("window.nmsim.ready"), pg.inner_text("#nm-status")
    pg.log = log
    return pg


def _chart(blob, name):
    return next(c for c in blob["charts"] if c["id"] == f"chart-{name}")


def _frame(blob, spec):
    ds = blob["datasets"][spec["dataset"]]
    return pd.DataFrame(ds["rows"], columns=ds["columns"])


def _points(pg, cid):
    return int(pg.get_attribute(f"#{cid}", "data-points"))


def _front(pg, cid):
    return json.loads(pg.get_attribute(f"#{cid}", "data-pareto"))


def _expected_front(df, x, y, senses=("min", "max")):
    num = df[[x, y]].apply(pd.to_numeric, errors="coerce")
    mask = pareto_mask(num, minimize=[c for c, s in zip((x, y), senses) if s == "min"],
                       maximize=[c for c, s in zip((x, y), senses) if s == "max"])
    return sorted(int(i) for i in df.index[mask])


def test_every_chart_renders(page, report):
    _, blob = report
    names = [c["id"] for c in blob["charts"]]
    assert names == ["chart-accuracy-vs-training-flops", "chart-training-flops-by-phase",
                     "chart-accuracy-vs-inference-flops", "chart-accuracy-latency-energy", "chart-latency-energy",
                     "chart-memory", "chart-trainer-sweep", "chart-seed-sweeps", "chart-cluster-budget",
                     "chart-cluster-layouts"]
    assert page.locator(".nm-chart").count() == len(names)
    for spec in blob["charts"]:
        cid = spec["id"]
        assert page.locator(f"#{cid} .main-svg").count() >= 1, cid
        drawn = page.evaluate(f"document.getElementById('{cid}').data.filter(t => (t.y || []).length).length")
        assert drawn >= 1, cid
        df = _frame(blob, spec)
        keep = np.ones(len(df), bool)
        for col, values in spec["initial"].items():
            keep &= df[col].astype(str).isin([str(v) for v in values]).to_numpy()
        df = df[keep]
        if spec["kind"] == "bar":
            cols = spec["y"] if spec["stacked"] else spec["y"][:1]
            expect = int(sum(pd.to_numeric(df[c], errors="coerce").notna().sum() for c in cols))
        else:
            xy = df[[spec["x"][0], spec["y"][0]]].apply(pd.to_numeric, errors="coerce")
            if spec["log_x"]:
                xy = xy[xy.iloc[:, 0] > 0]
            expect = int(xy.notna().all(axis=1).sum())
        assert _points(page, cid) == expect > 0, cid
        img = imread(io.BytesIO(page.locator(f"#{cid}").screenshot()), format="png")[..., :3]
        colored = (img.max(axis=2) - img.min(axis=2)) > 0.2   # markers and bars, not grey text or grid
        assert colored.sum() > 200, f"{cid}: no coloured marks on screen"
    # the Python study marked the same fronts (pareto: inference FLOPs; pareto_train: training FLOPs)
    head = _frame(blob, _chart(blob, "accuracy-vs-training-flops"))
    assert _front(page, "chart-accuracy-vs-training-flops") == sorted(np.flatnonzero(head["pareto_train"]).tolist())
    assert _front(page, "chart-accuracy-vs-inference-flops") == sorted(np.flatnonzero(head["pareto"]).tolist())
    lay = _frame(blob, _chart(blob, "cluster-layouts"))
    assert _front(page, "chart-cluster-layouts") == _expected_front(lay, "step_seconds", "mem_total_bytes", ("min", "min"))
    # seed bands: two seeds -> a band trace filled to the one before it
    fills = page.evaluate("document.getElementById('chart-trainer-sweep').data.map(t => t.fill || '')")
    assert fills.count("tonexty") == 2


def test_seed_sweeps_errors_and_front_per_task(page, report):
    _, blob = report
    cid, sw = "chart-seed-sweeps", _frame(blob, _chart(blob, "seed-sweeps"))
    digits = sw[sw["task"] == "digits"]
    assert _points(page, cid) == 3   # the first task only, at load
    assert _front(page, cid) == sorted(np.flatnonzero(sw["pareto"] & (sw["task"] == "digits")).tolist())
    # sr-ste: seeds 95 and 99 -> mean 97, bars down 2 and up 2
    bars = page.evaluate(f"document.getElementById('{cid}').data.filter(t => t.name.startsWith('sr-ste'))"
                         ".map(t => [t.y[0], t.error_y.arrayminus[0], t.error_y.array[0]])")
    assert bars == [pytest.approx([97.0, 2.0, 2.0])]
    assert digits.set_index("recipe").loc["sr-ste", "train_flops_rel_dense"] == pytest.approx(0.8)
    _click_filter(page, cid, "task", "hard")
    assert _points(page, cid) == 5 and _front(page, cid) == _expected_front(sw, "train_flops_rel_dense",
                                                                             "accuracy_pct")
    _click_filter(page, cid, "task", "hard")


def _click_filter(pg, cid, column, value):
    pg.locator(f"#{cid}-controls fieldset[data-column='{column}'] input[value='{value}']").click()
    pg.wait_for_timeout(50)


def _set_all(pg, cid, column, which):
    pg.locator(f"#{cid}-controls fieldset[data-column='{column}'] button[data-set='{which}']").click()
    pg.wait_for_timeout(50)


def test_filter_changes_points_and_front(page, report):
    _, blob = report
    cid = "chart-accuracy-vs-training-flops"
    head = _frame(blob, _chart(blob, "accuracy-vs-training-flops"))
    before, front = _points(page, cid), _front(page, cid)
    assert front == _expected_front(head, "train_flops_rel_dense", TOP1)
    gone = head.loc[front[0], "recipe"]
    _click_filter(page, cid, "recipe", gone)
    left = head[head["recipe"] != gone]
    assert _points(page, cid) == before - int((head["recipe"] == gone).sum())
    assert _front(page, cid) == _expected_front(left, "train_flops_rel_dense", TOP1) != front
    _click_filter(page, cid, "plan", "ff=1:8")
    left = left[left["plan"] != "ff=1:8"]
    assert _points(page, cid) == len(left.dropna(subset=[TOP1]))
    assert _front(page, cid) == _expected_front(left, "train_flops_rel_dense", TOP1)
    _set_all(page, cid, "recipe", "none")
    assert _points(page, cid) == 0 and _front(page, cid) == []
    assert "No points shown" in page.inner_text(f"#{cid}-front")
    _set_all(page, cid, "recipe", "all")
    _set_all(page, cid, "plan", "all")
    assert _points(page, cid) == before and _front(page, cid) == front


def test_axis_choice_recomputes_front(page, report):
    _, blob = report
    spec = _chart(blob, "accuracy-latency-energy")
    cid, df = spec["id"], _frame(blob, spec)
    assert _front(page, cid) == _expected_front(df, "latency_ms", TOP1)
    page.select_option(f"#{cid}-controls select[data-axis='x']", "energy_j")
    page.wait_for_timeout(50)
    assert _front(page, cid) == _expected_front(df, "energy_j", TOP1)
    _click_filter(page, cid, "hardware", "ideal-nm")
    only = df[df["hardware"] != "ideal-nm"]
    assert _points(page, cid) == len(only) and _front(page, cid) == _expected_front(only, "energy_j", TOP1)
    _click_filter(page, cid, "hardware", "ideal-nm")
    page.select_option(f"#{cid}-controls select[data-axis='x']", "latency_ms")


def test_hover_shows_numbers_and_what_executed(page, report):
    _, blob = report
    spec = _chart(blob, "accuracy-latency-energy")
    cid, df = spec["id"], _frame(blob, spec)
    assert {"bound", "hw_patterns"} <= set(spec["hover"])
    for optional in ("kernel", "fallback"):   # shown when the pricer reports them
        assert (optional in spec["hover"]) == (optional in df.columns)
    page.evaluate(f"Plotly.Fx.hover('{cid}', [{{curveNumber: 0, pointNumber: 0}}])")
    text = page.text_content(f"#{cid} .hoverlayer")
    row = df.iloc[page.evaluate(f"document.getElementById('{cid}').data[0].customdata[0]")]
    assert f"hardware: {row['hardware']}" in text and f"plan: {row['plan']}" in text
    assert f"bound: {row['bound']}" in text and f"hw_patterns: {row['hw_patterns']}" in text
    assert "latency (ms): " in text and "speedup vs dense: " in text
    # hover rounds as the tables do: latency {:.3f}, speedup {:.2f}
    assert spec["formats"]["latency_ms"] == {"kind": "f", "digits": 3}
    assert f"latency (ms): {row['latency_ms']:.3f}" in text and f"speedup vs dense: {row['speedup_vs_dense']:.2f}" in text
    for optional in ("kernel", "fallback"):
        if optional in df.columns:
            assert f"{optional}: {row[optional]}" in text


def test_tables_sort_and_filter(page, report):
    out, blob = report
    t = next(t for t in blob["tables"] if t["name"] == "headline")
    tid, csv = t["id"], pd.read_csv(out / "headline.csv")
    rows = lambda: int(page.get_attribute(f"#{tid}", "data-rows"))  # noqa: E731
    first = lambda j: page.inner_text(f"#{tid} tbody tr:first-child td:nth-child({j + 1})")  # noqa: E731
    j = t["columns"].index(TOP1)
    page.click(f"#{tid} th[data-col='{j}']")
    assert first(j) == f"{csv[TOP1].min():.3f}"
    page.click(f"#{tid} th[data-col='{j}']")
    assert first(j) == f"{csv[TOP1].max():.3f}"
    page.fill(f"#{tid} input[data-col='{t['columns'].index('recipe')}']", "sr-ste")
    assert rows() == int((csv["recipe"] == "sr-ste").sum())
    page.fill(f"#{tid} input[data-col='{t['columns'].index('recipe')}']", "")
    page.fill(f"#{tid} .nm-tools input", f"{TOP1}>77.5")
    assert rows() == int((csv[TOP1] > 77.5).sum()) > 0
    page.fill(f"#{tid} .nm-tools input", "")
    assert rows() == len(csv)


def test_no_console_errors_and_no_network(page, report):
    out, _ = report
    log = page.log
    assert not log["errors"], log["errors"]
    assert not [m for m in log["console"] if m[0] in ("error", "warning")], log["console"]
    # no request leaves the page: every request seen is local, none was blocked, no WebSocket was opened
    assert log["requests"][0] == (out / "index.html").as_uri()
    assert [u for u in log["requests"] + log["context_requests"] if not u.startswith(LOCAL)] == []
    assert log["blocked"] == [] and log["websockets"] == []
    # the records would show one: a fetch from the page is seen, blocked, and fails in the page
    url = "https://example.com/nmsim-probe.json"
    seen = len(log["requests"])
    assert page.evaluate("u => fetch(u).then(() => 'loaded', () => 'failed')", url) == "failed"
    assert log["requests"][seen:] == [url] and log["blocked"] == [url]
    with page.expect_websocket():
        page.evaluate("u => { new WebSocket(u); }", "wss://example.com/nmsim-probe")
    assert log["websockets"] == ["wss://example.com/nmsim-probe"]
    del log["requests"][seen:], log["context_requests"][:], log["blocked"][:], log["websockets"][:]


def test_tables_only_page_needs_no_plotly(browser, tmp_path):
    from nmsim.report.writer import Report, Table, write_report

    rep = Report("tables only")
    frame = pd.DataFrame({"plan": [f"ff=1:{2 ** k}" for k in range(1, 21)], "gflops": np.linspace(30, 10, 20)})
    rep.section("s", "text").items.append(Table("t", frame, "twenty rows", formats={"gflops": "{:.1f}"}))
    out = write_report(rep, tmp_path / "r")
    assert 'id="nm-plotly-gz"' not in (out / "index.html").read_text(encoding="utf-8")
    pg = browser.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto((out / "index.html").as_uri())
    pg.wait_for_function("window.nmsim && window.nmsim.ready", timeout=60_000)
    assert pg.locator("#table-t tbody tr").count() == 15   # a page of rows, then "show all"
    pg.click("#table-t .nm-more")
    assert pg.locator("#table-t tbody tr").count() == 20
    assert pg.inner_text("#table-t tbody tr:last-child td:nth-child(2)") == "10.0"
    assert not errors and not pg.evaluate("!!window.Plotly")
    pg.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.0, 2.5, math.nan]), st.sampled_from([0.0, 1.0, 3.0, math.nan])),
                max_size=12), st.sampled_from([("min", "max"), ("max", "max"), ("min", "min")]))
def test_page_front_is_pareto_mask(page, pts, senses):
    """The page's front rule equals nmsim.report.pareto.pareto_mask (ties, NaN, both senses)."""
    df = pd.DataFrame(pts, columns=["x", "y"], dtype=float)
    js = page.evaluate("([pts, senses]) => window.nmsim.paretoFront(pts.map((p, i) => ({x: p[0], y: p[1], row: i}))"
                       ".filter(p => Number.isFinite(p.x) && Number.isFinite(p.y)), senses).map(p => p.row).sort((a, b) => a - b)",
                       [[[None if math.isnan(a) else a, None if math.isnan(b) else b] for a, b in pts], list(senses)])
    assert js == _expected_front(df, "x", "y", senses)
