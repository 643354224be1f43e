"""``nmsim trace``: op graph FLOPs of a workload, by op, role, layer or module; the paper's view."""
from __future__ import annotations

from nmsim.cli.output import FORMATS, add_columns, columns_hook, emit


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
    from nmsim.api.pricing import trace_table
    traced = trace_table(args, columns_hook(args))
    if traced.paper:
        emit(traced.table, args.format, args.out, columns=args.columns)
        return 0
    import sys

    cfg, params, graph = traced.config, traced.params, traced.graph
    head = (f"# {cfg.name} forward, batch {cfg.batch:,} x {cfg.tokens:,} tokens: "
            f"{params['total'] / 1e6:,.1f}M parameters ({params.get('other', 0) / 1e6:,.1f}M embeddings/norms/biases)\n")
    if "active" in params:   # a mixture of experts
        head += (f"#   {params['active'] / 1e6:,.1f}M parameters active per token (top {cfg.experts_per_token} of "
                 f"{cfg.experts} experts: FLOPs count these)\n")
    from nmsim.cost.per_token import per_token_line
    head += per_token_line(traced.per_token)
    from nmsim.cli.price import wrap_comment
    emit(traced.table, args.format, args.out, columns=args.columns, head=wrap_comment(head))
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
