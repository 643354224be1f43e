"""OpGraph: a networkx DiGraph of traced ops (edges follow data) plus a tidy per-op DataFrame."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nmsim.columns import COST_COLUMNS, TRACE_OP_COLUMNS
from nmsim.graph.formulas import costs_for

if TYPE_CHECKING:
    import pandas as pd

MATRIX_KINDS = ("linear", "matmul", "conv")


class OpGraph:
    """One node per traced forward op; ``ops`` is the same data as a DataFrame (one row per op).

    Columns: id, op (aten name), kind, role, module, layer, stack, shapes, dtype, weight, GEMM dims
    (gemm_b × [gemm_m, gemm_k] · [gemm_k, gemm_n]), grad flags, element counts, bytes, and the formula costs
    fwd/dgrad/wgrad matrix FLOPs and forward/backward vector FLOPs. ``uncounted`` lists ops without a formula.
    ``rows`` is the same table as :class:`nmsim.frame.Rows` (labels: the op ids), what pricing reads: a graph
    made from a shape-generic graph holds only that and makes the DataFrame on first use (no pandas before).
    """

    def __init__(self, graph, ops, uncounted: dict[str, int] | None = None, config=None):
        from nmsim.frame import Rows

        self._graph, self.config = graph, config
        self._ops, self._rows = (ops, None) if not isinstance(ops, Rows) else (None, ops)
        self._edges: list = []   # a graph built from a shape-generic graph makes its DiGraph on first use
        self.uncounted = dict(uncounted or {})

    @property
    def ops(self) -> pd.DataFrame:
        """One row per op (index: the op ids)."""
        if self._ops is None:
            df = self._rows.to_pandas()
            df.index.name = None
            self._ops = df
        return self._ops

    @ops.setter
    def ops(self, frame) -> None:
        self._ops, self._rows = frame, None

    @property
    def rows(self):
        """:attr:`ops` as :class:`nmsim.frame.Rows` (labels: the op ids)."""
        if self._rows is None:
            from nmsim.frame import Rows

            self._rows = Rows.from_pandas(self._ops)
        return self._rows

    @property
    def graph(self):
        """networkx DiGraph: one node per op (attributes = the op's row), edges follow data."""
        if self._graph is None:
            import networkx as nx

            g = nx.DiGraph()
            g.add_nodes_from((int(r["id"]), r) for r in self.ops.to_dict("records"))
            g.add_edges_from(self._edges)
            self._graph = g
        return self._graph

    def edge_list(self) -> list[tuple[int, int]]:
        """The data-flow edges (src, dst) in the tracer's order (by destination), without building the DiGraph."""
        return list(self._graph.edges) if self._graph is not None else list(self._edges)

    def producers(self) -> dict[int, list[int]]:
        """Op id -> ids of the ops whose outputs it reads (the DiGraph's predecessors, without building it)."""
        if self._graph is not None:
            return {n: list(self._graph.predecessors(n)) for n in self._graph}
        out: dict[int, list[int]] = {int(i): [] for i in self.rows["id"].tolist()}
        for src, dst in self._edges:
            out[dst].append(src)
        return out

    @classmethod
    def from_records(cls, records: list[dict], edges, uncounted=None, config=None) -> "OpGraph":
        import pandas as pd

        for rec in records:
            costs = costs_for(rec)
            rec["counted"] = costs is not None
            rec.update(costs or dict.fromkeys(COST_COLUMNS, 0.0))
        ops = pd.DataFrame.from_records(records)
        if ops.empty:
            ops = pd.DataFrame(columns=["id", "op", "kind", "role", "module", "layer", *COST_COLUMNS])
        ops = ops.set_index("id", drop=False).rename_axis(None)
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from((r["id"], r) for r in records)
        g.add_edges_from(edges)
        return cls(g, ops, uncounted, config)

    # ---- views -----------------------------------------------------------------------------------
    @property
    def unrecognised(self) -> list[str]:
        """Module paths of weight GEMMs (linear / conv) that got no role: sparsity plans cannot select them by
        role; give them one with ``roles=`` (trace) or ``roles:`` (workload YAML)."""
        rows = self.rows
        if not len(rows) or "role" not in rows:
            return []
        import numpy as np

        mask = np.isin(rows["kind"], ("linear", "conv")) & (rows["role"] == "other")
        return list(dict.fromkeys(rows["module"][mask].tolist()))

    @property
    def matrix_ops(self) -> pd.DataFrame:
        return self.ops[self.ops["kind"].isin(MATRIX_KINDS)]

    def totals(self) -> dict[str, float]:
        t = {c: float(self.ops[c].sum()) for c in COST_COLUMNS}
        t["training_matrix_flops"] = t["fwd_flops"] + t["dgrad_flops"] + t["wgrad_flops"]
        return t

    def summary(self, by: str = "role", columns=COST_COLUMNS) -> pd.DataFrame:
        """Costs grouped by ``op`` (one row per op), ``role``, ``layer``, ``module`` or ``kind``."""
        cols = list(columns)
        if by == "op":
            return self.ops[[*TRACE_OP_COLUMNS, *cols]].copy()
        if by not in ("role", "layer", "module", "kind"):
            raise ValueError(f"by must be op, role, layer, module or kind, got {by!r}")
        table = self.ops.groupby(by, sort=False, dropna=False)[cols].sum()
        table["training_matrix_flops"] = table["fwd_flops"] + table["dgrad_flops"] + table["wgrad_flops"]
        return table

    def module_totals(self, columns=("fwd_flops", "dgrad_flops", "wgrad_flops")) -> dict[str, float]:
        """Sum of ``columns`` per module path including every ancestor ("" = the whole model)."""
        out: dict[str, float] = {}
        per = self.ops.groupby("module")[list(columns)].sum().sum(axis=1)
        for path, value in per.items():
            parts = path.split(".") if path else []
            for i in range(len(parts) + 1):
                key = ".".join(parts[:i])
                out[key] = out.get(key, 0.0) + float(value)
        return out

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        t = self.totals()
        return (f"OpGraph({len(self)} ops, fwd {t['fwd_flops']:.4g} matrix FLOPs, "
                f"training {t['training_matrix_flops']:.4g}, uncounted={sorted(self.uncounted)}, "
                f"unrecognised={self.unrecognised})")
