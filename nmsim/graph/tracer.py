"""Trace a module's forward pass on the meta device into an :class:`OpGraph`.

A ``TorchDispatchMode`` records every aten op (after autograd, so ``requires_grad`` on each operand tells which
backward GEMMs exist) and global module hooks record which module is running, giving each op a module path,
a role and a layer. View ops are folded into their producer; factory ops are constants. Backward costs are
not traced: they come from :mod:`nmsim.graph.formulas`, one GEMM per operand that needs a gradient.
"""
from __future__ import annotations

import math
import re
import warnings

import torch
from torch.nn.modules import module as nn_module
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from nmsim.errors import UserError
from nmsim.graph import roles as R
from nmsim.graph.opgraph import OpGraph
from nmsim.graph.stacks import layer_of, stack_of

MATRIX_OPS = {"mm", "addmm", "bmm", "baddbmm", "convolution", "_convolution"}
VIEW_LIKE = {"_unsafe_view", "detach", "alias", "lift_fresh", "_reshape_alias", "lift_fresh_copy"}
FACTORY = {"arange", "ones", "zeros", "empty", "full", "scalar_tensor", "empty_like", "zeros_like", "ones_like",
           "full_like", "new_zeros", "new_ones", "new_empty", "new_full", "empty_strided", "rand", "randn",
           "randint", "rand_like", "randn_like", "_local_scalar_dense"}
COPY = {"clone", "_to_copy", "copy_", "copy", "cat", "stack", "index_select", "gather", "index", "_unsafe_index",
        "repeat", "constant_pad_nd", "expand_copy", "split_with_sizes_copy", "contiguous", "flip", "roll"}
REDUCTION = {"mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "prod", "argmax", "argmin",
             "any", "all", "linalg_vector_norm", "norm", "cumsum", "topk", "sort", "logsumexp"}
NON_POINTWISE_ELEMENTWISE = {"triu", "tril", "masked_fill", "where", "dropout", "native_dropout"}
NORM_OPS = {"native_layer_norm", "native_group_norm", "native_batch_norm", "_native_batch_norm_legit",
            "_native_batch_norm_legit_no_training", "rms_norm", "_fused_rms_norm"}
SOFTMAX_OPS = {"_softmax", "_safe_softmax", "_log_softmax", "softmax", "log_softmax"}
ACTIVATIONS = {"gelu", "silu", "relu", "tanh", "sigmoid", "threshold", "erf"}


_POINTWISE: dict = {}   # (op, each argument's shape, strides and dtype or value) -> (shape, strides, dtype)


def _pointwise_meta(func, args, kwargs):
    """``func(*args, **kwargs)``; a functional pointwise op on meta tensors (mul, add, neg, rsqrt, ...) gives a
    fresh tensor whose shape, strides and dtype follow from its arguments', so one already run with arguments
    alike is answered with an empty tensor of that layout instead of running its meta kernel again (Python
    reference decompositions: most of a trace's time; a model's layers repeat the same ops)."""
    if kwargs or torch.Tag.pointwise not in func.tags or func._schema.is_mutable:
        return func(*args, **kwargs)
    key = [func]
    for a in args:
        if isinstance(a, torch.Tensor):
            if a.device.type != "meta":
                return func(*args)
            key.append((tuple(a.shape), a.stride(), a.dtype))
        elif isinstance(a, (bool, int, float)):
            key.append((type(a), a))
        else:
            return func(*args)
    key = tuple(key)
    hit = _POINTWISE.get(key)
    if hit is None:
        out = func(*args)
        if isinstance(out, torch.Tensor) and out.device.type == "meta":
            _POINTWISE[key] = (tuple(out.shape), out.stride(), out.dtype)
        return out
    return torch.empty_strided(hit[0], hit[1], dtype=hit[2], device="meta")


def _tensors(tree, out: list) -> list:
    """The tensors of an op's arguments or results (tuples, lists and dict values, in order, as pytree's
    flattening gives them; a plain walk is most of a dispatch's Python time saved)."""
    if isinstance(tree, torch.Tensor):
        out.append(tree)
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            _tensors(item, out)
    elif isinstance(tree, dict):
        for item in tree.values():
            _tensors(item, out)
    return out


def _root(t: torch.Tensor) -> torch.Tensor:
    return t._base if t._base is not None else t


def _nbytes(t: torch.Tensor) -> int:
    n = t.numel() * t.element_size()
    if t._base is not None:  # expanded views read no more than their base holds
        n = min(n, t._base.numel() * t._base.element_size())
    return n


class _Recorder(TorchDispatchMode):
    def __init__(self, params: dict[int, str], module_names: dict[int, str], norm_modules: set[int], role_of=R.role_of):
        super().__init__()
        self.params, self.module_names, self.norm_modules = params, module_names, norm_modules
        self.role_of = role_of
        self.stack: list[tuple[int, str]] = []   # (module id, path)
        self.records: list[dict] = []
        self.edges: list[tuple[int, int]] = []
        self.producer: dict[int, int] = {}       # id(tensor root) -> node id
        self.keep: list = []                     # keep traced tensors alive so ids stay unique
        self.matmul_calls: dict[int, int] = {}   # id(module call) -> act x act matmuls seen in it
        self.uncounted: dict[str, int] = {}

    # ---- module context --------------------------------------------------------------------------
    def push(self, module, *_):
        self.stack.append((id(module), self.module_names.get(id(module), "?")))

    def pop(self, module, *_):
        if self.stack and self.stack[-1][0] == id(module):
            self.stack.pop()
        return None

    # ---- dispatch --------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = _pointwise_meta(func, args, kwargs)
        name = func.overloadpacket.__name__
        flat_in = _tensors((args, kwargs), [])
        flat_out = _tensors(out, [])
        self.keep.append(flat_out)
        if func.is_view or name in VIEW_LIKE:
            src = self.producer.get(id(_root(flat_in[0]))) if flat_in else None
            if src is not None:
                for o in flat_out:
                    self.producer[id(o)] = src
            return out
        if name in FACTORY or not flat_out:
            return out
        if "scaled_dot_product" in name:
            self._attention(name, args, kwargs, flat_out)
        else:
            self._record(func, name, args, flat_in, flat_out)
        return out

    def _context(self) -> tuple[str, int | None]:
        if not self.stack:
            return "", None
        return self.stack[-1][1], self.stack[-1][0]

    def _new_node(self, rec: dict, inputs: list, outputs: list) -> int:
        nid = len(self.records)
        rec["id"] = nid
        self.records.append(rec)
        seen = set()
        for t in inputs:
            src = self.producer.get(id(_root(t)))
            if src is not None and src not in seen:
                seen.add(src)
                self.edges.append((src, nid))
        for o in outputs:
            self.producer[id(o)] = nid
        return nid

    def _base_record(self, name: str, kind: str, inputs, outputs, path: str) -> dict:
        out0 = outputs[0]
        return {
            "op": name, "kind": kind, "module": path, "role": None, "layer": layer_of(path), "stack": stack_of(path),
            "in_shapes": [tuple(t.shape) for t in inputs], "out_shape": tuple(out0.shape),
            "dtype": str(out0.dtype).replace("torch.", ""), "weight": "", "weight_shape": (),
            "gemm_b": 0, "gemm_m": 0, "gemm_k": 0, "gemm_n": 0, "has_bias": False,
            "x_grad": any(t.requires_grad for t in inputs if id(_root(t)) not in self.params),
            "w_grad": False, "causal": False,
            "in_numel": sum(t.numel() for t in inputs), "out_numel": sum(o.numel() for o in outputs),
            "weight_numel": 0,
            "bytes_read": sum(_nbytes(t) for t in inputs), "bytes_written": sum(_nbytes(o) for o in outputs),
        }

    def _record(self, func, name, args, flat_in, flat_out):
        path, mod_id = self._context()
        if name in MATRIX_OPS:
            rec = self._matrix(name, args, flat_in, flat_out, path, mod_id)
        else:
            kind = self._vector_kind(func, name, mod_id)
            rec = self._base_record(name, kind, flat_in, flat_out, path)
            rec["role"] = self._role(path, kind, name)
            if kind == "embedding":
                w = flat_in[0]
                rec.update(weight=self.params.get(id(_root(w)), ""), weight_shape=tuple(w.shape),
                           weight_numel=w.numel(), w_grad=w.requires_grad, x_grad=False)
            elif kind == "unknown":
                self.uncounted[name] = self.uncounted.get(name, 0) + 1
        self._new_node(rec, flat_in, flat_out)

    def _vector_kind(self, func, name, mod_id) -> str:
        if name in NORM_OPS or (mod_id in self.norm_modules):
            return "norm"
        if name in SOFTMAX_OPS:
            return "softmax"
        if name == "embedding":
            return "embedding"
        if name in COPY:
            return "copy"
        if name in REDUCTION:
            return "reduction"
        if torch.Tag.pointwise in func.tags or name in NON_POINTWISE_ELEMENTWISE:
            return "elementwise"
        return "unknown"

    def _role(self, path: str, kind: str, name: str) -> str:
        if kind == "norm":
            return R.NORM
        if kind == "softmax":
            return R.SOFTMAX
        if kind == "embedding":
            return R.EMBED
        parts = path.split(".") if path else []
        while parts:
            role = self.role_of(".".join(parts))
            if role and role != R.ATTENTION:
                return role
            parts.pop()
        if name in ACTIVATIONS:
            return R.ACT
        return R.OTHER

    def _matrix(self, name, args, flat_in, flat_out, path, mod_id) -> dict:
        if name in ("convolution", "_convolution"):
            x, w, bias = args[0], args[1], args[2]
            out = flat_out[0]
            rec = self._base_record(name, "conv", flat_in, flat_out, path)
            # w is [C_out, C_in / groups, kh, kw]: the reduction per output is C_in / groups · kh · kw
            rec.update(gemm_b=1, gemm_m=out.shape[0] * math.prod(out.shape[2:]), gemm_n=w.shape[0],
                       gemm_k=w.shape[1] * math.prod(w.shape[2:]), has_bias=bias is not None)
            weight, act = w, x
        else:
            has_bias = name in ("addmm", "baddbmm")
            a, b = (args[1], args[2]) if has_bias else (args[0], args[1])
            a_param, b_param = id(_root(a)) in self.params, id(_root(b)) in self.params
            batch = a.shape[0] if a.dim() == 3 else 1
            m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
            weight = act = None
            if b_param and not a_param:
                weight, act = b, a
            elif a_param and not b_param:
                weight, act, m, n = a, b, n, m   # W[out, K] @ X[K, tokens]: tokens are the GEMM's M
            kind = "linear" if weight is not None else "matmul"
            rec = self._base_record(name, kind, flat_in, flat_out, path)
            rec.update(gemm_b=batch, gemm_m=m, gemm_k=k, gemm_n=n, has_bias=has_bias and weight is not None)
            if weight is None:
                rec.update(x_grad=a.requires_grad, w_grad=b.requires_grad)
                rec["role"] = self._matmul_role(path, mod_id)
                return rec
        rec.update(weight=self.params.get(id(_root(weight)), ""), weight_shape=tuple(_root(weight).shape),
                   weight_numel=weight.numel(), w_grad=weight.requires_grad, x_grad=act.requires_grad)
        rec["role"] = self._role(path, rec["kind"], name)
        return rec

    def _matmul_role(self, path: str, mod_id) -> str:
        role = self.role_of(path) if path else None
        if role in (R.LOGIT, R.ATTEND):
            return role
        parts = path.split(".") if path else []
        marked = any(self.role_of(".".join(parts[:i])) == R.ATTENTION for i in range(len(parts), 0, -1))
        if marked or any(w in path.lower() for w in ("attn", "attention")):
            count = self.matmul_calls.get(mod_id, 0)
            self.matmul_calls[mod_id] = count + 1
            return R.LOGIT if count % 2 == 0 else R.ATTEND
        return R.OTHER

    def _attention(self, name, args, kwargs, flat_out):
        """A fused SDPA kernel (invisible to FlopCounterMode on CPU) becomes logit, softmax and attend nodes."""
        path, _ = self._context()
        q, k, v = args[0], args[1], args[2]
        causal = bool(kwargs.get("is_causal", args[4] if len(args) > 4 and isinstance(args[4], bool) else False))
        bh = q.shape[0] * q.shape[1]
        tq, tk, d, dv = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
        logits = torch.empty(q.shape[:-2] + (tq, tk), device="meta", dtype=q.dtype)
        specs = [(R.LOGIT, [q, k], [logits], dict(gemm_m=tq, gemm_k=d, gemm_n=tk), q.requires_grad, k.requires_grad),
                 (R.ATTEND, [logits, v], flat_out[:1], dict(gemm_m=tq, gemm_k=tk, gemm_n=dv),
                  q.requires_grad or k.requires_grad, v.requires_grad)]
        self.keep.append(logits)
        for i, (role, ins, outs, dims, xg, wg) in enumerate(specs):
            rec = self._base_record(name, "matmul", ins, outs, path)
            rec.update(role=role, gemm_b=bh, x_grad=xg, w_grad=wg, causal=causal, **dims)
            self._new_node(rec, ins, outs)
            if i == 0:
                soft = self._base_record("_softmax", "softmax", [logits], [logits], path)
                soft.update(role=R.SOFTMAX, x_grad=xg or wg)
                self._new_node(soft, [logits], [logits])


def _meta_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Name -> meta tensor for every parameter and buffer (real ones get a meta stand-in of the same shape,
    dtype and grad flag; tied names share one stand-in, so ties survive)."""
    state, stand_in = {}, {}
    for name, p in module.named_parameters(remove_duplicate=False):
        if id(p) not in stand_in:
            stand_in[id(p)] = p if p.is_meta else torch.empty_like(p, device="meta").requires_grad_(p.requires_grad)
        state[name] = stand_in[id(p)]
    for name, b in module.named_buffers(remove_duplicate=False):
        if id(b) not in stand_in:
            stand_in[id(b)] = b if b.is_meta else torch.empty_like(b, device="meta")
        state[name] = stand_in[id(b)]
    return state


def _to_meta(x):
    return x.to("meta") if isinstance(x, torch.Tensor) else x


_DATA_DEPENDENT = ("cannot be called on meta tensors", "data-dependent", "Boolean value of Tensor",
                   "value of a meta tensor", "is not implemented for meta", "Cannot copy out of meta tensor")


def _why(exc: Exception) -> str:
    """One line on why a module cannot be traced on the meta device (which has shapes but no values)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    first = text if len(text) <= 160 else text[:157] + "..."
    if any(s in text for s in _DATA_DEPENDENT):
        return ("cannot be traced on the meta device: data-dependent control flow or a read of a tensor's value "
                f"(.item(), bool(), .tolist(), .numpy()); branch on shapes instead ({first})")
    if "data-independent" in text or "dynamic output shape" in text.lower():
        return ("cannot be traced on the meta device: an op whose output shape depends on tensor values (nonzero, "
                f"unique, masked_select, ...) ({first})")
    m = re.search(r"Could not run '([\w:.]+)' with arguments from the 'Meta' backend", text)
    if m:
        return f"cannot be traced on the meta device: op {m.group(1)} has no meta implementation"
    return f"forward failed on meta tensors ({type(exc).__name__}: {first})"


def trace(module: torch.nn.Module, example_inputs, *, example_kwargs: dict | None = None, config=None,
          strict: bool = False, roles=None) -> OpGraph:
    """Run ``module`` forward on the meta device and return its :class:`OpGraph`.

    ``example_inputs``: a tensor or tuple of tensors (moved to meta; no weights are allocated — a module with
    real, tied or partly-meta weights is run with meta stand-ins through ``torch.func.functional_call``; tied
    parameters share one stand-in and keep the first name). Ops with no cost formula are listed in
    ``OpGraph.uncounted`` and warned about (``strict=True`` raises instead).

    ``roles``: what the module's names do not say — a mapping of module-path globs to roles
    (``{"*.mlp.gate": "ff_gate", "*.mlp.up": "ff1", "blocks.*.mix": "attention"}``) or a callable
    ``path -> role | None``, consulted before the name heuristics (:func:`nmsim.graph.roles.role_resolver`;
    ``attention`` marks a module whose activation x activation matmuls are logit / attend). Weight GEMMs still
    without a role are listed in ``OpGraph.unrecognised``.
    """
    where = type(module).__name__
    if not isinstance(module, torch.nn.Module):
        raise UserError(f"expected an nn.Module, got {type(module).__name__}", "module")
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)):
        hint = " (give keyword inputs as example_kwargs)" if isinstance(example_inputs, dict) else ""
        raise UserError(f"expected a tensor or a tuple of tensors (the module's example inputs), got "
                        f"{type(example_inputs).__name__}{hint}", f"{where}: example_inputs")
    if example_kwargs is not None and not (isinstance(example_kwargs, dict)
                                           and all(isinstance(k, str) for k in example_kwargs)):
        raise UserError(f"expected a dict of keyword inputs, got {type(example_kwargs).__name__}",
                        f"{where}: example_kwargs")
    inputs = tree_map(_to_meta, tuple(example_inputs))
    kw_inputs = tree_map(_to_meta, dict(example_kwargs or {}))
    state = _meta_state(module)
    shared: dict[int, str] = {}
    for name, p in state.items():
        shared.setdefault(id(p), name)     # tied weights keep their first name
    module_names = {id(m): n for n, m in module.named_modules(remove_duplicate=False)}
    norm_modules = {id(m) for m in module.modules() if "norm" in type(m).__name__.lower()}
    rec = _Recorder(shared, module_names, norm_modules, R.role_resolver(roles))
    all_meta = all(state[n] is p for n, p in module.named_parameters(remove_duplicate=False))
    h1 = nn_module.register_module_forward_pre_hook(rec.push)
    h2 = nn_module.register_module_forward_hook(rec.pop)
    try:
        with torch.enable_grad(), rec:
            if all_meta and all(state[n] is b for n, b in module.named_buffers(remove_duplicate=False)):
                module(*inputs, **kw_inputs)
            else:
                torch.func.functional_call(module, state, inputs, kw_inputs, tie_weights=True, strict=False)
    except UserError:
        raise
    except Exception as exc:  # the module's forward on meta tensors: say why, in one line
        inner = rec.stack[-1][1] if rec.stack else ""
        raise UserError(_why(exc), f"{where} (in {inner!r})" if inner else where) from exc
    finally:
        h1.remove()
        h2.remove()
    graph = OpGraph.from_records(rec.records, rec.edges, uncounted=rec.uncounted, config=config)
    if rec.uncounted:
        if strict:
            raise UserError(f"ops without a cost formula: {_listing(rec.uncounted)}", where)
        warnings.warn(uncounted_warning(rec.uncounted), stacklevel=2)
    return graph


def _listing(uncounted: dict[str, int]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(uncounted.items()))


def uncounted_warning(uncounted: dict[str, int]) -> str:
    """The warning :func:`trace` gives for ops without a cost formula."""
    return f"nmsim.trace: ops without a cost formula (not counted): {_listing(uncounted)}"
