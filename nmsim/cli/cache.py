"""``nmsim cache info`` (where the trace cache is, what it holds) and ``nmsim cache clear`` (every file nmsim keeps
in its cache folder)."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("cache", help="nmsim's cache: info (the traced graphs), clear (everything it keeps there)")
    p.add_argument("action", choices=("info", "clear"),
                   help="info: the graphs' location and entries; clear: delete the traced graphs, the kept answers, "
                        "the report's kept costs, its quick-sweep runs and the data files kept parsed")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    from nmsim.cli.output import add_columns
    add_columns(p)
    p.set_defaults(func=run)


INFO_COLUMNS = ("workload", "kind", "variables", "ops", "bytes", "created", "current", "file")


def run(args) -> int:
    if args.action == "clear":
        from nmsim.api.cache import clear_cache

        for what, folder, files, size in clear_cache():
            print(f"removed {files} {what}, {size / 2**20:.1f} MiB, from {folder}")
        return 0
    from nmsim.graph import cache

    if args.columns:   # a typo fails before the header is printed
        from nmsim.cli.table import choose
        choose(list(INFO_COLUMNS), args.columns)
    rows = cache.entries()
    total = sum(r["bytes"] for r in rows)
    v = cache.versions()
    import textwrap
    print(textwrap.fill(f"# trace cache {cache.graphs_dir()}: {len(rows)} graph(s), {total / 2**20:.1f} MiB "
                        f"(torch {v['torch']}, nmsim {v['nmsim']}, tracing code {v['code']})", 100,
                        subsequent_indent="#   ", break_on_hyphens=False), file=sys.stderr)
    if rows:
        import pandas as pd

        from nmsim.cli.output import emit

        df = pd.DataFrame(rows)[list(INFO_COLUMNS)]
        if args.format == "table":   # bytes in human units by the table's own rule
            df["file"] = [f[:24] + "…" for f in df["file"]]
            df["current"] = ["yes" if c else "stale" for c in df["current"]]
        emit(df, args.format, None, index=False, columns=args.columns)
    return 0
