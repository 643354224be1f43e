"""Roles: what an op does in a transformer, independent of how a model names its modules.

Roles are what sparsity plans select (``ff`` = ff1 + ff2 + ff_gate, ``qkv`` = q + k + v + qkv, ...) and what
the paper-convention view counts (Q, K, V, O, Logit, Attend, FF1, FF2).
"""
from __future__ import annotations

# weight GEMMs
Q, K, V, O, QKV = "q", "k", "v", "o", "qkv"
FF1, FF2, FF_GATE = "ff1", "ff2", "ff_gate"
HEAD, POOLER, PATCH_EMBED = "head", "pooler", "patch_embed"
ROUTER = "router"   # a mixture-of-experts layer's gate: tokens -> expert scores
# activation x activation matmuls inside attention
LOGIT, ATTEND = "logit", "attend"
# everything else
EMBED, NORM, SOFTMAX, ACT, RESIDUAL, POSITION, MASK, OTHER = (
    "embed", "norm", "softmax", "act", "residual", "position", "mask", "other")
# user role maps only: a module whose activation x activation matmuls are attention (logit, then attend)
ATTENTION = "attention"

WEIGHT_GEMM_ROLES = (Q, K, V, O, QKV, FF1, FF2, FF_GATE, HEAD, POOLER, PATCH_EMBED, ROUTER)
PAPER_ROLES = (Q, K, V, O, LOGIT, ATTEND, FF1, FF2)

# roles a user may give a module in a role map (``roles=`` of trace / a workload YAML's ``roles:``)
USER_ROLES = (*WEIGHT_GEMM_ROLES, LOGIT, ATTEND, ATTENTION, EMBED, NORM, SOFTMAX, ACT, OTHER)

# selector name -> roles it covers (used by sparsity plans)
ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "ff": (FF1, FF2, FF_GATE),
    "ff1": (FF1,), "ff2": (FF2,), "ff_gate": (FF_GATE,),
    "q": (Q,), "k": (K,), "v": (V,), "o": (O,),
    "qk": (Q, K),
    "qkv": (Q, K, V, QKV),
    "attn": (Q, K, V, O, QKV),
    "head": (HEAD,),
}

# Module-name leaves (last path component, lower case) -> role. Covers nmsim's builder and the usual
# Hugging Face / timm names so user modules get roles too.
_LEAF_ROLES: dict[str, str] = {
    "q": Q, "q_proj": Q, "query": Q, "wq": Q,
    "k": K, "k_proj": K, "key": K, "wk": K,
    "v": V, "v_proj": V, "value": V, "wv": V,
    "o": O, "o_proj": O, "out_proj": O, "wo_attn": O, "proj": O,
    "qkv": QKV, "c_attn": QKV, "qkv_proj": QKV, "in_proj": QKV,
    "ff1": FF1, "fc1": FF1, "up_proj": FF1, "c_fc": FF1, "wi": FF1, "wi_1": FF1, "intermediate": FF1, "w1": FF1,
    "ff2": FF2, "fc2": FF2, "down_proj": FF2, "wo": FF2, "w2": FF2,
    "ff_gate": FF_GATE, "gate_proj": FF_GATE, "wi_0": FF_GATE, "w3": FF_GATE,
    "logit": LOGIT, "attend": ATTEND,
    "head": HEAD, "lm_head": HEAD, "classifier": HEAD,
    "pooler": POOLER, "router": ROUTER,
    "patch_embed": PATCH_EMBED,
    "embed": EMBED, "wte": EMBED, "wpe": EMBED, "embed_tokens": EMBED, "word_embeddings": EMBED,
    "position_embeddings": EMBED, "token_type_embeddings": EMBED, "pos_embed": EMBED, "shared": EMBED,
}


# leaves that name a feed-forward GEMM only inside an MLP container (``mlp.gate``, ``ffn.up``, ``mlp.down``)
_FF_LEAVES = {"gate": FF_GATE, "up": FF1, "down": FF2, "fc_in": FF1, "fc_out": FF2, "dense_h_to_4h": FF1,
              "dense_4h_to_h": FF2, "lin1": FF1, "lin2": FF2}


_FF_CONTAINERS = ("mlp", "ffn", "feed_forward", "ff")


def _projection_role(leaf: str, parent: str, context: str) -> str | None:
    """Role of a generic projection leaf (``c_proj``, ``proj``, ``dense``) from the path around it."""
    if any(w in context for w in _FF_CONTAINERS) or (leaf == "dense" and parent == "output"
                                                      and "attention" not in context):
        return FF2
    if leaf == "dense" and parent == "intermediate":
        return FF1
    if any(w in context for w in ("attn", "attention")):
        return O
    if leaf == "dense" and parent == "pooler":
        return POOLER
    return None


def role_of(module_path: str) -> str | None:
    """Role implied by a module path, e.g. ``blocks.3.attn.q`` -> ``q``; ``None`` if the name says nothing.

    Looks at the last path component first, then its parent (``mlp.c_proj`` -> ff2, ``attn.c_proj`` -> o,
    ``output.dense`` (BERT) -> ff2, ``attention.output.dense`` -> o).
    """
    parts = [p.lower() for p in module_path.split(".") if p]
    if not parts:
        return None
    leaf = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    role = _projection_role(leaf, parent, ".".join(parts[:-1])) if leaf in ("c_proj", "proj", "dense") else None
    if role is None and leaf in _FF_LEAVES and any(w in parent for w in _FF_CONTAINERS):
        role = _FF_LEAVES[leaf]
    if role is None:
        role = _LEAF_ROLES.get(leaf)
    if role is None and (parent in ("patch_embed", "patch_embedding") or leaf == "patch_embedding"):
        role = PATCH_EMBED
    return role


def role_resolver(roles=None):
    """A function ``module path -> role | None`` from a user's role map, a callable, or nothing.

    ``roles``: a mapping (or ((glob, role), ...) pairs) from module-path globs (``fnmatch``: ``*.mlp.gate``,
    ``blocks.*.mix``) to roles, checked in order before the name heuristics of :func:`role_of`; or a callable
    ``path -> role | None`` (``None`` falls back to the heuristics). Unknown roles raise :class:`UserError`.
    """
    from fnmatch import fnmatchcase

    from nmsim.errors import UserError

    from nmsim.io.read import short_repr

    if not (roles is None or callable(roles) or isinstance(roles, (dict, list, tuple))):
        raise UserError(f"expected a mapping of module-path globs to roles, a list of (glob, role) pairs or a "
                        f"function, got {type(roles).__name__}", "roles")
    if roles is None or (not callable(roles) and len(roles) == 0):
        return role_of
    if callable(roles):
        def resolve_callable(path: str) -> str | None:
            role = roles(path)
            if role is not None and (not isinstance(role, str) or role not in USER_ROLES):
                raise UserError(f"role function gave unknown role {short_repr(role)} (valid: "
                                f"{', '.join(USER_ROLES)})", path)
            return role if role is not None else role_of(path)
        return resolve_callable
    pairs = list(roles.items()) if isinstance(roles, dict) else list(roles)
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise UserError(f"expected a (glob, role) pair, got {short_repr(pair)}", f"roles[{i}]")
        glob, role = pair
        if not isinstance(role, str) or role not in USER_ROLES:
            raise UserError(f"unknown role {short_repr(role)} (valid: {', '.join(USER_ROLES)})", f"roles: {glob}")

    def resolve_map(path: str) -> str | None:
        for glob, role in pairs:
            if fnmatchcase(path, glob):
                # "attention" marks a container: a name inside it that says more (blocks.0.q) still counts
                return (role_of(path) or role) if role == ATTENTION else role
        return role_of(path)
    return resolve_map
