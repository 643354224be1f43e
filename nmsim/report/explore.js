// nmsim report page: sortable/filterable tables and plotly charts from the JSON blob #nmsim-data.
// plotly.js is embedded gzip+base64 in #nm-plotly-gz and unpacked here; nothing is fetched.
// State for tests and tools: window.nmsim.ready, .renderMs; each chart <div> carries data-points (visible
// points or bars) and data-pareto (JSON list of the dataset rows on the Pareto front); each table
// <div> carries data-rows (rows left by its filters).
(function () {
  "use strict";
  const blob = JSON.parse(document.getElementById("nmsim-data").textContent);
  const statusEl = document.getElementById("nm-status");
  const PAGE = 15;
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"];
  const SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "star", "cross", "x",
                   "pentagon", "hexagon", "triangle-left", "triangle-right"];
  const DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  const api = { ready: false, renderMs: null, blob: blob, charts: {}, tables: {}, paretoFront: null };
  window.nmsim = api;

  // ---- data helpers
  function index(ds) {
    if (!ds.index) { ds.index = {}; ds.columns.forEach(function (c, i) { ds.index[c] = i; }); }
    return ds.index;
  }
  function column(ds, name) { const i = index(ds)[name]; return ds.rows.map(function (r) { return r[i]; }); }
  function key(v) { return v === null || v === undefined ? "–" : String(v); }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }
  function fmtAs(spec, c, v) {   // a chart's value at its table's precision (spec.formats), else fmt
    const f = spec.formats && spec.formats[c];
    if (!f || !isNum(v)) return fmt(v);
    return f.kind === "f" ? v.toFixed(f.digits) : String(Number(v.toPrecision(Math.max(1, f.digits))));
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }
  function uniques(values) {
    const seen = new Map();
    values.forEach(function (v) { const k = key(v); if (!seen.has(k)) seen.set(k, v); });
    return Array.from(seen.keys());
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- Pareto front: the same rule as nmsim.report.pareto.pareto_mask (non-finite values never on it)
  function paretoFront(pts, senses) {
    const sx = senses[0] === "min" ? 1 : -1, sy = senses[1] === "min" ? 1 : -1;
    return pts.filter(function (p) {
      return !pts.some(function (q) {
        return sx * q.x <= sx * p.x && sy * q.y <= sy * p.y && (sx * q.x < sx * p.x || sy * q.y < sy * p.y);
      });
    });
  }

  api.paretoFront = paretoFront;

  // ---- tables
  function setupTable(t) {
    const ds = blob.datasets[t.dataset];
    const host = document.getElementById(t.id);
    const raw = t.columns.map(function (c) { return index(ds)[c]; });
    const text = t.display.map(function (r) { return r.join(" ").toLowerCase(); });
    const st = { sort: null, dir: 1, query: "", cols: {}, all: false };
    const tools = el("div", { "class": "nm-tools" });
    const search = el("input", { type: "search", placeholder: "filter rows: words, or column>value" });
    const count = el("span", { "class": "nm-count" });
    const more = el("button", { type: "button", "class": "nm-more" });
    tools.append(search, count, more);
    const table = el("table"), thead = el("thead"), tbody = el("tbody");
    const head = el("tr"), filt = el("tr", { "class": "nm-colfilter" });
    t.columns.forEach(function (c, j) {
      const th = el("th", { "class": "nm-sort", "data-col": String(j), title: "sort by " + c }, c);
      th.append(el("span", { "class": "nm-arrow" }, "↕"));
      th.addEventListener("click", function () {
        st.dir = st.sort === j ? -st.dir : 1; st.sort = j; update();
      });
      head.append(th);
      const inp = el("input", { type: "search", "data-col": String(j), placeholder: "filter", "aria-label": "filter " + c });
      inp.addEventListener("input", function () { st.cols[j] = inp.value.trim(); update(); });
      const fth = el("th"); fth.append(inp); filt.append(fth);
    });
    thead.append(head, filt); table.append(thead, tbody); host.append(tools, table);
    search.addEventListener("input", function () { st.query = search.value.trim(); update(); });
    more.addEventListener("click", function () { st.all = !st.all; update(); });

    function rawValue(i, j) { return raw[j] === undefined ? t.display[i][j] : ds.rows[i][raw[j]]; }
    function test(cond, i, j) {
      const m = cond.match(/^(<=|>=|!=|<|>|=)\s*(-?[0-9.eE+-]+)$/);
      const v = rawValue(i, j);
      if (m && isNum(v)) {
        const x = parseFloat(m[2]);
        return { "<": v < x, ">": v > x, "<=": v <= x, ">=": v >= x, "=": v === x, "!=": v !== x }[m[1]];
      }
      return t.display[i][j].toLowerCase().indexOf(cond.toLowerCase()) >= 0;
    }
    function passes(i) {
      for (const j in st.cols) { if (st.cols[j] && !test(st.cols[j], i, +j)) return false; }
      if (!st.query) return true;
      return st.query.split(/\s+/).every(function (term) {
        const m = term.match(/^([A-Za-z_][\w.%]*)(<=|>=|!=|<|>|=)(.+)$/);
        if (m && t.columns.indexOf(m[1]) >= 0) return test(m[2] + m[3], i, t.columns.indexOf(m[1]));
        return text[i].indexOf(term.toLowerCase()) >= 0;
      });
    }
    function cmp(a, b) {
      if (a === null || a === undefined || a === "–") return (b === null || b === undefined || b === "–") ? 0 : 1;
      if (b === null || b === undefined || b === "–") return -1;
      if (typeof a === "number" && typeof b === "number") return st.dir * (a - b);
      return st.dir * String(a).localeCompare(String(b), undefined, { numeric: true });
    }
    function update() {
      let rows = t.display.map(function (_, i) { return i; }).filter(passes);
      if (st.sort !== null) {
        rows = rows.slice().sort(function (a, b) { return cmp(rawValue(a, st.sort), rawValue(b, st.sort)) || a - b; });
      }
      head.querySelectorAll(".nm-arrow").forEach(function (a, j) {
        a.textContent = st.sort === j ? (st.dir > 0 ? "▲" : "▼") : "↕";
      });
      const shown = st.all ? rows : rows.slice(0, PAGE);
      tbody.replaceChildren.apply(tbody, shown.map(function (i) {
        const tr = el("tr", { "data-row": String(i) });
        t.display[i].forEach(function (c) { tr.append(el("td", {}, c)); });
        return tr;
      }));
      count.textContent = rows.length + " of " + t.display.length + " rows" +
        (shown.length < rows.length ? " (first " + shown.length + " shown)" : "");
      more.hidden = rows.length <= PAGE;
      more.textContent = st.all ? "show first " + PAGE : "show all " + rows.length;
      host.dataset.rows = String(rows.length);
    }
    api.tables[t.id] = { state: st, update: update };
    update();
  }

  // ---- charts
  function label(spec, c) { return (spec.labels && spec.labels[c]) || c; }

  function setupChart(spec) {
    const ds = blob.datasets[spec.dataset];
    const st = { x: spec.x[0], y: spec.y[0], filters: {} };
    const box = document.getElementById(spec.id + "-controls");
    const colors = {}, symbols = {}, dashes = {};
    if (spec.color) uniques(column(ds, spec.color)).forEach(function (k, i) {
      colors[k] = (spec.colors && spec.colors[k]) || PALETTE[i % PALETTE.length];
    });
    if (spec.symbol) uniques(column(ds, spec.symbol)).forEach(function (k, i) { symbols[k] = SYMBOLS[i % SYMBOLS.length]; });
    if (spec.dash) uniques(column(ds, spec.dash)).forEach(function (k, i) { dashes[k] = DASHES[i % DASHES.length]; });
    function redraw() { return drawChart(spec); }
    ["x", "y"].forEach(function (axis) {
      if (spec.kind === "bar" && spec.stacked && axis === "y") return;
      if (spec[axis].length < 2) return;
      const lab = el("label", {}, axis + ": ");
      const sel = el("select", { "data-axis": axis });
      spec[axis].forEach(function (c) { sel.append(el("option", { value: c }, label(spec, c))); });
      sel.addEventListener("change", function () { st[axis] = sel.value; redraw(); });
      lab.append(sel); box.append(lab);
    });
    spec.filters.forEach(function (c) {
      const init = spec.initial && spec.initial[c] ? spec.initial[c].map(key) : null;
      const values = uniques(column(ds, c));
      st.filters[c] = new Set(values.filter(function (k) { return !init || init.indexOf(k) >= 0; }));
      const fs = el("fieldset", { "class": "nm-filter", "data-column": c });
      fs.append(el("legend", {}, label(spec, c)));
      const boxes = [];
      [["all", true], ["none", false]].forEach(function (b) {
        const btn = el("button", { type: "button", "data-set": b[0] }, b[0]);
        btn.addEventListener("click", function () {
          boxes.forEach(function (cb) { cb.checked = b[1]; });
          st.filters[c] = new Set(b[1] ? values : []); redraw();
        });
        fs.append(btn);
      });
      values.forEach(function (k) {
        const lab = el("label");
        const cb = el("input", { type: "checkbox", value: k });
        cb.checked = st.filters[c].has(k);
        cb.addEventListener("change", function () {
          if (cb.checked) st.filters[c].add(k); else st.filters[c].delete(k);
          redraw();
        });
        boxes.push(cb);
        lab.append(cb, document.createTextNode(" " + k));
        fs.append(lab);
      });
      box.append(fs);
    });
    api.charts[spec.id] = { spec: spec, state: st, colors: colors, symbols: symbols, dashes: dashes, redraw: redraw };
  }

  function visibleRows(spec, ds, st) {
    const idx = index(ds);
    return ds.rows.map(function (_, i) { return i; }).filter(function (i) {
      return spec.filters.every(function (c) { return st.filters[c].has(key(ds.rows[i][idx[c]])); });
    });
  }

  function hoverText(spec, ds, i, extra) {
    const idx = index(ds);
    const cols = extra.concat(spec.hover.filter(function (c) { return extra.indexOf(c) < 0; }));
    return cols.map(function (c) { return "<b>" + esc(label(spec, c)) + "</b>: " + esc(fmtAs(spec, c, ds.rows[i][idx[c]])); })
      .join("<br>");
  }

  function xyTraces(spec, ds, st, rows, chart, info) {
    const idx = index(ds);
    const groups = new Map();
    rows.forEach(function (i) {
      const r = ds.rows[i];
      const x = r[idx[st.x]], y = r[idx[st.y]];
      if (!isNum(x) || !isNum(y)) return;
      if ((spec.log_x && x <= 0) || (spec.log_y && y <= 0)) return;
      const g = [spec.color ? key(r[idx[spec.color]]) : "", spec.dash ? key(r[idx[spec.dash]]) : ""];
      const k = g.join(" ");
      if (!groups.has(k)) groups.set(k, { g: g, rows: [] });
      groups.get(k).rows.push(i);
    });
    const traces = [], pts = [];
    groups.forEach(function (grp, k) {
      let gr = grp.rows;
      if (spec.kind === "line") gr = gr.slice().sort(function (a, b) { return ds.rows[a][idx[st.x]] - ds.rows[b][idx[st.x]]; });
      const xs = gr.map(function (i) { return ds.rows[i][idx[st.x]]; });
      const ys = gr.map(function (i) { return ds.rows[i][idx[st.y]]; });
      const color = spec.color ? chart.colors[grp.g[0]] : PALETTE[0];
      const name = k.trim() || label(spec, st.y);
      if (spec.band) {
        const lo = gr.map(function (i) { return ds.rows[i][idx[spec.band[0]]]; });
        const hi = gr.map(function (i) { return ds.rows[i][idx[spec.band[1]]]; });
        traces.push({ type: "scatter", mode: "lines", x: xs, y: lo, line: { width: 0, color: color },
                      showlegend: false, hoverinfo: "skip", legendgroup: name });
        traces.push({ type: "scatter", mode: "lines", x: xs, y: hi, line: { width: 0, color: color },
                      fill: "tonexty", fillcolor: /^#[0-9a-fA-F]{6}$/.test(color) ? color + "33" : "rgba(0,0,0,0.12)", showlegend: false, hoverinfo: "skip", legendgroup: name });
      }
      traces.push({
        type: "scatter", mode: spec.kind === "line" ? "lines+markers" : "markers", name: name, legendgroup: name,
        x: xs, y: ys, customdata: gr,
        text: gr.map(function (i) { return hoverText(spec, ds, i, [st.x, st.y]); }),
        hovertemplate: "%{text}<extra></extra>",
        marker: { color: color, size: spec.kind === "line" ? 5 : 9, line: { width: 0.5, color: "#333" },
                  symbol: spec.symbol ? gr.map(function (i) { return chart.symbols[key(ds.rows[i][idx[spec.symbol]])]; }) : "circle" },
        line: { color: color, width: 1.6, dash: spec.dash ? chart.dashes[grp.g[1]] : "solid" },
        error_y: spec.errors ? { type: "data", symmetric: false, color: color, thickness: 1, width: 3,
          array: gr.map(function (i, n) { const v = ds.rows[i][idx[spec.errors[1]]]; return isNum(v) ? v - ys[n] : 0; }),
          arrayminus: gr.map(function (i, n) { const v = ds.rows[i][idx[spec.errors[0]]]; return isNum(v) ? ys[n] - v : 0; })
        } : undefined
      });
      gr.forEach(function (i, n) { pts.push({ x: xs[n], y: ys[n], row: i }); });
    });
    info.points = pts.length;
    if (spec.symbol) {   // legend entries for the marker shapes (colours have theirs)
      uniques(pts.map(function (p) { return ds.rows[p.row][idx[spec.symbol]]; })).forEach(function (k) {
        traces.push({ type: "scatter", mode: "markers", x: [null], y: [null], name: label(spec, spec.symbol) + ": " + k,
                      marker: { symbol: chart.symbols[k], color: "#999", size: 9 }, hoverinfo: "skip",
                      legendgroup: "symbol" });
      });
    }
    if (spec.pareto && pts.length) {
      const front = paretoFront(pts, spec.pareto).sort(function (a, b) { return a.x - b.x || a.y - b.y; });
      info.pareto = front.map(function (p) { return p.row; }).sort(function (a, b) { return a - b; });
      traces.push({ type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map(function (p) { return p.x; }),
                    y: front.map(function (p) { return p.y; }), line: { shape: "hv", color: "#222", width: 1.3 },
                    marker: { size: 15, symbol: "circle-open", color: "#222" }, hoverinfo: "skip" });
      info.frontText = front.map(function (p) {
        const r = ds.rows[p.row];
        return [spec.color, spec.symbol, spec.dash].filter(Boolean).concat(spec.filters.slice(0, 3))
          .filter(function (c, n, a) { return a.indexOf(c) === n; })
          .map(function (c) { return key(r[idx[c]]); }).join(" · ") + " (" + fmt(p.x) + ", " + fmt(p.y) + ")";
      });
    }
    return traces;
  }

  function barTraces(spec, ds, st, rows, chart, info) {
    const idx = index(ds);
    const cat = function (i) { return key(ds.rows[i][idx[st.x]]); };
    const outer = function (i) { return key(ds.rows[i][idx[spec.group]]); };
    const xval = function (rs) { return spec.group ? [rs.map(outer), rs.map(cat)] : rs.map(cat); };
    const series = [];
    if (spec.stacked) {
      spec.y.forEach(function (c, n) { series.push({ name: label(spec, c), rows: rows, col: c, color: PALETTE[n % PALETTE.length] }); });
    } else if (spec.color) {
      uniques(rows.map(function (i) { return ds.rows[i][idx[spec.color]]; })).forEach(function (k) {
        series.push({ name: k, rows: rows.filter(function (i) { return key(ds.rows[i][idx[spec.color]]) === k; }),
                      col: st.y, color: chart.colors[k] });
      });
    } else {
      series.push({ name: label(spec, st.y), rows: rows, col: st.y, color: PALETTE[0] });
    }
    info.points = 0;
    return series.map(function (s) {
      const rs = s.rows.filter(function (i) { return isNum(ds.rows[i][idx[s.col]]); });
      info.points += rs.length;
      return { type: "bar", name: s.name, x: xval(rs), y: rs.map(function (i) { return ds.rows[i][idx[s.col]]; }),
               marker: { color: s.color }, customdata: rs,
               text: rs.map(function (i) { return hoverText(spec, ds, i, spec.stacked ? [s.col] : [st.y]); }),
               textposition: "none", hovertemplate: "%{text}<extra>" + esc(s.name) + "</extra>" };
    });
  }

  function drawChart(spec) {
    const ds = blob.datasets[spec.dataset];
    const chart = api.charts[spec.id];
    const st = chart.state;
    const rows = visibleRows(spec, ds, st);
    const info = { points: 0, pareto: [], frontText: [] };
    const traces = spec.kind === "bar" ? barTraces(spec, ds, st, rows, chart, info) : xyTraces(spec, ds, st, rows, chart, info);
    const stackedBar = spec.kind === "bar" && (spec.stacked || spec.color);
    const layout = {
      title: { text: esc(spec.title || ""), font: { size: 14 } }, height: 480, hovermode: "closest",
      margin: { l: 70, r: 20, t: 40, b: spec.group ? 110 : 70 }, barmode: stackedBar ? "stack" : "group",
      xaxis: { title: { text: esc(spec.kind === "bar" && spec.group ? label(spec, spec.group) + " / " + label(spec, st.x) : label(spec, st.x)) },
               type: spec.log_x ? "log" : undefined, automargin: true, exponentformat: "SI" },
      yaxis: { title: { text: esc(spec.kind === "bar" && spec.stacked ? spec.y.map(function (c) { return label(spec, c); }).join(" + ") : label(spec, st.y)) },
               type: spec.log_y ? "log" : undefined, automargin: true, exponentformat: "SI" },
      legend: { font: { size: 10 } },
      shapes: (spec.lines || []).filter(function (l) {
        return !l.column || l.column === (l.axis === "x" ? st.x : st.y);
      }).map(function (l) {
        const vertical = l.axis === "x";
        return { type: "line", xref: vertical ? "x" : "paper", yref: vertical ? "paper" : "y",
                 x0: vertical ? l.value : 0, x1: vertical ? l.value : 1, y0: vertical ? 0 : l.value, y1: vertical ? 1 : l.value,
                 line: { color: "#444", width: 1, dash: "dash" },
                 label: { text: esc(l.label || ""), font: { size: 10 }, textposition: "end" } };
      })
    };
    const div = document.getElementById(spec.id);
    div.dataset.points = String(info.points);
    div.dataset.pareto = JSON.stringify(info.pareto);
    const front = document.getElementById(spec.id + "-front");
    front.textContent = spec.pareto ? (info.pareto.length ? "Pareto front of the " + info.points + " points shown: " +
      info.frontText.join("; ") : "No points shown: no Pareto front.") : (info.points ? "" : "Nothing left by the filters.");
    return Plotly.react(div, traces, layout, { displaylogo: false, responsive: true });
  }

  // ---- plotly.js, unpacked from the page
  async function loadPlotly() {
    if (window.Plotly) return;
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot unpack the embedded plotly.js (no DecompressionStream); " +
                      "report.md and the CSV files hold the same data");
    }
    const b64 = document.getElementById("nm-plotly-gz").textContent.trim();
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const code = await new Response(stream).text();
    const s = document.createElement("script");
    s.textContent = code;
    document.head.append(s);
    if (!window.Plotly) throw new Error("plotly.js did not load");
  }

  async function main() {
    const t0 = performance.now();
    blob.tables.forEach(setupTable);
    api.timings = { tablesMs: performance.now() - t0, charts: {} };
    if (blob.charts.length) {
      let t = performance.now();
      await loadPlotly();
      api.timings.plotlyMs = performance.now() - t;
      for (const spec of blob.charts) {
        t = performance.now();
        setupChart(spec);
        await drawChart(spec);
        api.timings.charts[spec.id] = performance.now() - t;
      }
    }
    api.renderMs = performance.now();
    api.ready = true;
    statusEl.hidden = true;
    document.body.dataset.ready = "1";
  }
  main().catch(function (err) {
    statusEl.textContent = "The charts could not be drawn: " + err.message;
    statusEl.className = "nm-status nm-error";
    console.error(err);
  });
})();
