"""``nmsim trace``: op graph FLOPs of a workload, by op, role, layer or module; the paper's view."""
from __future__ import annotations

from nmsim.cli.output import FORMATS, add_columns, emit


def register(sub) -> None:
    p = sub.add_parser("trace", help="trace a workload on the meta device and count FLOPs")
    p.add_argument("workload", nargs="?", help="bundled workload name, a workload YAML path or an HF config.json")
    p.add_argument("--hf-config", help="a Hugging Face config.json (llama, gpt2, bert, t5, vit)")
    p.add_argument("--batch", type=int)
    p.add_argument("--seq", type=int, help="sequence length (text models)")
    p.add_argument("--by", choices=("op", "role", "layer", "module", "kind"), default="role")
    p.add_argument("--paper", action="store_true",
                   help="the paper's convention: Q,K,V,O,Logit,Attend,FF1,FF2 per input at 196 tokens")
    p.add_argument("--format", choices=FORMATS, default="table")
    add_columns(p)
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from nmsim.graph import resolve_workload

    cfg = resolve_workload(args.workload, args.hf_config, batch=args.batch, seq_len=args.seq)   # before torch
    from nmsim.cli.table import check_columns
    from nmsim.graph import paper_view, trace_workload
    from nmsim.graph.api import PAPER_COLUMNS
    if args.paper:
        check_columns(PAPER_COLUMNS, args.columns, keys=("op",))   # a typo, before tracing
        emit(paper_view(cfg), args.format, args.out, columns=args.columns)
        return 0
    import sys

    from nmsim.graph import parameter_counts

    if args.by != "op":   # a --columns typo, before tracing
        from nmsim.graph.opgraph import COST_COLUMNS
        check_columns([*COST_COLUMNS, "training_matrix_flops"], args.columns, keys=(args.by,))
    graph = trace_workload(cfg)
    table = graph.summary(by=args.by)
    if args.by != "op":
        total = table.sum(numeric_only=True)
        table.loc["total"] = total
    params = parameter_counts(cfg)
    head = (f"# {cfg.name} forward, batch {cfg.batch:,} x {cfg.tokens:,} tokens: "
            f"{params['total'] / 1e6:,.1f}M parameters ({params.get('other', 0) / 1e6:,.1f}M embeddings/norms/biases)\n")
    if "active" in params:   # a mixture of experts
        head += (f"#   {params['active'] / 1e6:,.1f}M parameters active per token (top {cfg.experts_per_token} of "
                 f"{cfg.experts} experts: FLOPs count these)\n")
    from nmsim.cost.per_token import flops_per_token, per_token_line
    causal = cfg.causal and not cfg.is_image and not cfg.is_enc_dec
    active = params.get("active", params["total"])   # 2N / 6N with the parameters a token uses
    head += per_token_line(flops_per_token(graph, cfg.batch * cfg.tokens, cfg.tokens, causal, active))
    from nmsim.cli.price import wrap_comment
    emit(table, args.format, args.out, columns=args.columns, head=wrap_comment(head))
    if graph.uncounted:
        print(f"nmsim: warning: ops without a cost formula: {graph.uncounted}", file=sys.stderr)
    if graph.unrecognised:
        print(unrecognised_note(graph.unrecognised), file=sys.stderr)
    return 0


def unrecognised_note(modules: list[str], shown: int = 4) -> str:
    """One line naming weight GEMMs without a role (plans cannot select them by role)."""
    listing = ", ".join(modules[:shown]) + (f" and {len(modules) - shown} more" if len(modules) > shown else "")
    return (f"nmsim: note: {len(modules)} weight GEMM module(s) have no role, so plans like ff=2:4 cannot select "
            f"them: {listing}; name them in the workload's roles: map")
