"""One transformer builder (plain torch modules) for every workload and for the reference trainer.

Module names are the contract with roles (nmsim.graph.roles): ``blocks.{i}.attn.{q,k,v,o,logit,attend}``,
``blocks.{i}.ff.{ff1,ff_gate,ff2}``, ``embed``, ``patch_embed``, ``pooler``, ``head``; encoder-decoder models
put the stacks under ``encoder.`` and ``decoder.`` (decoder blocks add ``cross_attn``). Attention is written
with explicit matmul modules (``logit`` = QKᵀ, ``attend`` = PV) so every attention GEMM is a visible op that
torch's FlopCounterMode counts on any device (the CPU SDPA kernel is invisible to it).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nmsim.graph import families, stacks
from nmsim.graph.config import ModelConfig


class MatMul(nn.Module):
    """Activation × activation matmul as a module so it gets a path (and a role) in traces."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(cfg: ModelConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return RMSNorm(cfg.d_model, cfg.norm_eps)
    return nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps)


class RotaryTable(nn.Module):
    """Rotary position embedding's cos / sin tables, computed once per forward pass and shared by every layer
    (as Hugging Face's ``LlamaRotaryEmbedding`` does): [T, Dh] for positions ``offset .. offset + T - 1``."""

    def __init__(self, dim_head: int, theta: float):
        super().__init__()
        self.dim_head, self.theta = dim_head, theta

    def forward(self, t: int, offset: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        dh = self.dim_head
        inv = 1.0 / self.theta ** (torch.arange(0, dh, 2, device=device, dtype=torch.float32) / dh)
        pos = torch.arange(offset, offset + t, device=device, dtype=torch.float32)
        angles = torch.outer(pos, inv)
        emb = torch.cat([angles, angles], dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding on [B, H, T, Dh] (rotate-half form) with :class:`RotaryTable`'s tables; tables
    narrower than the head rotate its first channels and pass the rest (partial rotary, Phi-2)."""
    if cos.shape[-1] < x.shape[-1]:
        rd = cos.shape[-1]
        return torch.cat([rotate(x[..., :rd], cos, sin), x[..., rd:]], dim=-1)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool, rope: bool):
        super().__init__()
        self.heads, self.kv_heads, self.dh = cfg.heads, cfg.n_kv_heads, cfg.dim_head
        self.causal, self.rope = causal, rope
        inner, kv_inner = self.heads * self.dh, self.kv_heads * self.dh
        self.q = nn.Linear(cfg.d_model, inner, bias=cfg.has_bias("q"))
        self.k = nn.Linear(cfg.d_model, kv_inner, bias=cfg.has_bias("k"))
        self.v = nn.Linear(cfg.d_model, kv_inner, bias=cfg.has_bias("v"))
        self.o = nn.Linear(inner, cfg.d_model, bias=cfg.has_bias("o"))
        self.logit = MatMul()
        self.attend = MatMul()
        # T5 does not scale logits (folded into its init); everyone else uses 1/sqrt(dh)
        self.scale = 1.0 / math.sqrt(self.dh) if families.family(cfg.family).scaled_logits else 1.0

    def _split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, heads, self.dh).transpose(1, 2)

    def forward(self, x, context=None, bias=None, past: int = 0, rope=None):
        src = x if context is None else context
        q = self._split(self.q(x), self.heads)
        k = self._split(self.k(src), self.kv_heads)
        v = self._split(self.v(src), self.kv_heads)
        if self.rope:  # new positions only: cached keys were rotated when they were written
            q = rotate(q, *rope)
            k = rotate(k, *rope)
        if past:  # single-step decode: attend over a KV cache of `past` earlier positions
            b = x.shape[0]
            k = torch.cat([k.new_zeros(b, self.kv_heads, past, self.dh), k], dim=2)
            v = torch.cat([v.new_zeros(b, self.kv_heads, past, self.dh), v], dim=2)
        if self.kv_heads != self.heads:
            rep = self.heads // self.kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if self.scale != 1.0:
            q = q * self.scale
        scores = self.logit(q, k.transpose(-2, -1))
        if bias is not None:
            scores = scores + bias
        if self.causal and q.shape[2] > 1:
            tq, tk = q.shape[2], k.shape[2]
            future = torch.ones(tq, tk, dtype=torch.bool, device=x.device).triu(tk - tq + 1)
            scores = scores.masked_fill(future, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = self.attend(probs, v)
        b, h, t, dh = out.shape
        return self.o(out.transpose(1, 2).reshape(b, t, h * dh))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.kind = cfg.ffn_kind
        self.ff1 = nn.Linear(cfg.d_model, cfg.ffn, bias=cfg.has_bias("ff1"))
        if self.kind in ("swiglu", "geglu"):
            self.ff_gate = nn.Linear(cfg.d_model, cfg.ffn, bias=cfg.has_bias("ff_gate"))
        self.ff2 = nn.Linear(cfg.ffn, cfg.d_model, bias=cfg.has_bias("ff2"))

    def forward(self, x):
        h = self.ff1(x)
        if self.kind == "swiglu":
            h = F.silu(self.ff_gate(x)) * h
        elif self.kind == "geglu":
            h = F.gelu(self.ff_gate(x)) * h
        elif self.kind == "relu":
            h = F.relu(h)
        elif self.kind == "gelu_tanh":
            h = F.gelu(h, approximate="tanh")
        else:
            h = F.gelu(h)
        return self.ff2(h)


def expert_tokens(tokens: int, experts: int, top_k: int, skew: float = 0.0) -> list[int]:
    """Tokens each expert receives when each of ``tokens`` tokens is routed to ``top_k`` distinct experts:
    ``tokens * top_k`` in all, at most ``tokens`` per expert, expert e's share proportional to 1/(e+1)^skew
    (skew 0: balanced), water-filled under that cap and rounded by largest remainder (ties to the lower expert)."""
    weights = [(e + 1.0) ** -skew for e in range(experts)]
    counts, free, left = [0] * experts, list(range(experts)), tokens * top_k
    while free:
        total = sum(weights[e] for e in free)
        share = {e: left * weights[e] / total for e in free}
        capped = [e for e in free if share[e] >= tokens]
        if not capped:
            break
        for e in capped:
            counts[e], left = tokens, left - tokens
            free.remove(e)
    if free:
        for e in free:
            counts[e] = math.floor(share[e])
        by_remainder = sorted(free, key=lambda e: (counts[e] - share[e], e))
        for e in by_remainder[:left - sum(counts[e] for e in free)]:
            counts[e] += 1
    return counts


class MixtureOfExperts(nn.Module):
    """A router GEMM scores the experts; each token's top-k weights (renormalised, as Mixtral does) mix the outputs
    of the k experts it is sent to. Routing is fixed, not data-dependent, so every trace is exact: expert e runs
    its feed-forward GEMMs on :func:`expert_tokens` tokens (balanced by default, skewed by ``routing_skew``).
    Tokens are laid out slot-major (all tokens' first choices, then their second ...) and cut into consecutive
    runs, one per expert, so no expert sees a token twice. Every expert is built (memory holds them all)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.top_k, self.skew = cfg.experts_per_token, cfg.routing_skew
        self.router = nn.Linear(cfg.d_model, cfg.experts, bias=False)
        self.experts = nn.ModuleList(FeedForward(cfg) for _ in range(cfg.experts))

    def forward(self, x):
        b, t, d = x.shape
        flat = x.reshape(b * t, d)
        weights = torch.topk(torch.softmax(self.router(flat), dim=-1), self.top_k, dim=-1).values
        weights = weights / weights.sum(dim=-1, keepdim=True)
        counts = expert_tokens(b * t, len(self.experts), self.top_k, self.skew)
        routed = flat.repeat(self.top_k, 1).split(counts)
        out = torch.cat([expert(part) for expert, part in zip(self.experts, routed) if part.shape[0]])
        mixed = (out.view(self.top_k, b * t, d) * weights.t().unsqueeze(-1)).sum(dim=0)
        return mixed.view(b, t, d)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool, cross: bool, rope: bool):
        super().__init__()
        self.pre, self.parallel = cfg.norm_position == "pre", cfg.parallel_block
        self.norm1, self.attn = make_norm(cfg), Attention(cfg, causal, rope)
        if cross:
            self.norm_cross, self.cross_attn = make_norm(cfg), Attention(cfg, False, False)
        if not self.parallel:
            self.norm2 = make_norm(cfg)
        self.ff = MixtureOfExperts(cfg) if cfg.is_moe else FeedForward(cfg)

    def _sub(self, x, norm, fn):
        return x + fn(norm(x)) if self.pre else norm(x + fn(x))

    def forward(self, x, context=None, bias=None, past: int = 0, rope=None):
        if self.parallel:   # GPT-J / Phi-2: x + attn(norm(x)) + ff(norm(x)), one norm
            h = self.norm1(x)
            return x + self.attn(h, bias=bias, past=past, rope=rope) + self.ff(h)
        x = self._sub(x, self.norm1, lambda h: self.attn(h, bias=bias, past=past, rope=rope))
        if context is not None:
            x = self._sub(x, self.norm_cross, lambda h: self.cross_attn(h, context=context))
        return self._sub(x, self.norm2, self.ff)


class RelativeBias(nn.Module):
    """T5-style relative position bias: a learned [buckets, heads] table shared by a stack's layers.

    Buckets are clipped signed distances (T5 uses log-spaced buckets; the parameter count and FLOPs are the same).
    """

    def __init__(self, buckets: int, heads: int, bidirectional: bool):
        super().__init__()
        self.buckets, self.bidirectional = buckets, bidirectional
        self.table = nn.Embedding(buckets, heads)

    def forward(self, tq: int, tk: int, device, past: int = 0) -> torch.Tensor:
        rel = torch.arange(tk, device=device)[None, :] - torch.arange(past, past + tq, device=device)[:, None]
        half = self.buckets // 2
        idx = rel.clamp(-half, half - 1) + half if self.bidirectional else (-rel).clamp(0, self.buckets - 1)
        return self.table(idx).permute(2, 0, 1).unsqueeze(0)  # [1, H, Tq, Tk]


def sinusoid(t: int, d: int, device, offset: int = 0) -> torch.Tensor:
    pos = torch.arange(offset, offset + t, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    return torch.cat([torch.sin(pos * div), torch.cos(pos * div)], dim=-1)


class TokenEmbedding(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.position = cfg.position
        self.tokens = nn.Embedding(cfg.vocab, cfg.d_model)
        if cfg.position == "learned":
            self.positions = nn.Embedding(cfg.max_positions or cfg.seq_len, cfg.d_model)
        if cfg.type_vocab:
            self.token_types = nn.Embedding(cfg.type_vocab, cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps) if cfg.embed_norm else None

    def forward(self, ids: torch.Tensor, past: int = 0) -> torch.Tensor:
        x = self.tokens(ids)
        t = ids.shape[1]
        if self.position == "learned":
            x = x + self.positions(torch.arange(past, past + t, device=ids.device))
        elif self.position == "sinusoidal":
            x = x + sinusoid(t, x.shape[-1], ids.device, past).to(x.dtype)
        if hasattr(self, "token_types"):
            x = x + self.token_types(torch.zeros_like(ids))
        return self.norm(x) if self.norm is not None else x


class PatchEmbedding(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.patch_embed = nn.Conv2d(cfg.channels, cfg.d_model, cfg.patch_size, stride=cfg.patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model)) if cfg.class_token else None
        self.pos = nn.Parameter(torch.zeros(1, cfg.tokens, cfg.d_model))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos


class Stack(nn.Module):
    def __init__(self, cfg: ModelConfig, layers: int, causal: bool, cross: bool):
        super().__init__()
        rope = cfg.position == "rope"
        self.blocks = nn.ModuleList(Block(cfg, *kind) for kind in stacks.block_kinds(cfg, layers, causal, cross))
        self.rel = RelativeBias(cfg.relative_buckets, cfg.heads, not causal) if cfg.position == "relative" else None
        self.rope = RotaryTable(cfg.rotary_dim or cfg.dim_head, cfg.rope_theta) if rope else None
        self.norm = make_norm(cfg) if cfg.norm_position == "pre" else None

    def forward(self, x, context=None, past: int = 0):
        return run_blocks(self, x, context, past)


def run_blocks(owner: nn.Module, x, context=None, past: int = 0):
    """Run ``owner.blocks`` with its relative bias (``owner.rel``), rotary tables (``owner.rope``) and final norm
    (``owner.norm``)."""
    bias = owner.rel(x.shape[1], x.shape[1] + past, x.device, past) if owner.rel is not None else None
    rope = owner.rope(x.shape[1], past, x.device, x.dtype) if owner.rope is not None else None
    for block in owner.blocks:
        x = block(x, context=context, bias=bias, past=past, rope=rope)
    return owner.norm(x) if owner.norm is not None else x


class Transformer(nn.Module):
    """Encoder-only (vit, bert) or decoder-only (gpt2, llama) model."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = PatchEmbedding(cfg) if cfg.is_image else TokenEmbedding(cfg)
        stack = Stack(cfg, *stacks.stack_specs(cfg)[""])
        # flat paths: blocks.{i}
        self.blocks, self.rel, self.rope, self.norm = stack.blocks, stack.rel, stack.rope, stack.norm
        if cfg.pooler:
            self.pooler = nn.Linear(cfg.d_model, cfg.d_model)
        out = cfg.vocab if cfg.head == "lm" else cfg.num_classes
        if cfg.head != "none":
            self.head = nn.Linear(cfg.d_model, out, bias=cfg.head == "classifier" or cfg.has_bias("head"))
            if cfg.tie_embeddings and cfg.head == "lm":
                self.head.weight = self.embed.tokens.weight

    def forward(self, inputs: torch.Tensor, past: int = 0) -> torch.Tensor:
        x = self.embed(inputs) if self.cfg.is_image else self.embed(inputs, past)
        x = run_blocks(self, x, past=past)
        if self.cfg.head == "classifier" or self.cfg.pooler:
            x = x[:, 0] if (self.cfg.class_token or not self.cfg.is_image) else x.mean(dim=1)
            if self.cfg.pooler:
                x = torch.tanh(self.pooler(x))
        return self.head(x) if self.cfg.head != "none" else x


class EncoderDecoder(nn.Module):
    """t5 / enc-dec: shared token embedding, encoder stack, decoder stack with cross-attention, LM head."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedding(cfg)
        specs = stacks.stack_specs(cfg)
        self.encoder, self.decoder = Stack(cfg, *specs["encoder"]), Stack(cfg, *specs["decoder"])
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.tokens.weight

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        memory = self.encoder(self.embed(src))
        return self.head(self.decoder(self.embed(tgt), context=memory))


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the torch module for ``cfg`` (on the current default device: use ``torch.device('meta')``)."""
    return EncoderDecoder(cfg) if cfg.is_enc_dec else Transformer(cfg)


def example_inputs(cfg: ModelConfig, batch: int | None = None, seq: int | None = None,
                   device: str | torch.device = "meta", dtype: torch.dtype = torch.float32) -> tuple:
    """Inputs for one forward pass: images, token ids, or (source ids, target ids)."""
    b = batch or cfg.batch
    if cfg.is_image:
        return (torch.zeros(b, cfg.channels, cfg.image_size, cfg.image_size, device=device, dtype=dtype),)
    t = seq or cfg.seq_len
    ids = torch.zeros(b, t, dtype=torch.long, device=device)
    return (ids, ids.clone()) if cfg.is_enc_dec else (ids,)
