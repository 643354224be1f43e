"""ModelConfig: the fields that describe a transformer workload (one YAML file in workloads/ each).

Validated on construction from a mapping; errors name the file and the field.
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass

from nmsim.errors import UserError, field_path
from nmsim.graph import families
from nmsim.io.read import short_repr
from nmsim.io.spec_nodes import Bool, Choice, Custom, Field, Node, Nullable, Obj, Plain, Text
from nmsim.io.spec_reader import SpecReader

FAMILIES = families.NAMES   # one module each in nmsim/graph/families/
FFN_KINDS = ("gelu", "gelu_tanh", "relu", "swiglu", "geglu")
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rope", "relative", "sinusoidal", "none")
HEADS = ("lm", "classifier", "none")
BIAS_ROLES = ("q", "k", "v", "o", "ff1", "ff_gate", "ff2", "head")   # a list-valued `bias` names these

# Sanity limits (far above any published model, far below what overflows or hangs the tracer).
MAX_SIZE = {"layers": 4096, "decoder_layers": 4096, "d_model": 2**18, "heads": 2**14, "kv_heads": 2**14,
            "head_dim": 2**14, "ffn": 2**20, "vocab": 2**24, "seq_len": 2**24, "max_positions": 2**24,
            "relative_buckets": 2**16, "type_vocab": 2**16, "image_size": 2**16, "patch_size": 2**16,
            "channels": 2**12, "num_classes": 2**24, "batch": 2**24, "rotary_dim": 2**14,
            "experts": 2**12, "experts_per_token": 2**12}
MAX_TOKENS = 2**24   # tokens per sequence (new tokens plus KV-cache context)
MAX_SKEW = 8.0       # routing_skew: at 8 the first expert gets 2^8 times the second's tokens


@dataclass(frozen=True)
class ModelConfig:
    """A transformer: encoder-only, decoder-only or encoder-decoder, as its family (:mod:`nmsim.graph.families`)
    says; every other structural choice is a field."""

    name: str = "custom"
    family: str = "gpt2"
    layers: int = 12               # encoder layers for enc-dec families, else the single stack
    decoder_layers: int = 0        # enc-dec only
    d_model: int = 768
    heads: int = 12
    kv_heads: int | None = None    # GQA / MQA; None = heads
    head_dim: int | None = None    # None = d_model // heads
    ffn: int = 3072
    ffn_kind: str = "gelu"
    norm: str = "layernorm"
    norm_position: str = "pre"     # pre | post
    norm_eps: float = 1e-5
    bias: bool | tuple = True      # biases on linear layers: all but the LM head, none, or the roles listed
    rotary_dim: int | None = None  # rope on the first rotary_dim channels of each head (partial rotary); None = all
    parallel_block: bool = False   # attention and feed-forward both read one norm's output (GPT-J, Phi-2)
    experts: int = 0               # mixture of experts: feed-forward experts per layer (0 = one dense FFN)
    experts_per_token: int = 2     # experts each token is routed to (top-k)
    routing_skew: float = 0.0      # tokens per expert ~ 1/rank^skew (0 = balanced; Zipf-like skew above)
    vocab: int = 0                 # 0 for image models
    seq_len: int = 128             # tokens (text); image models derive theirs from image/patch size
    max_positions: int = 0         # learned position table size; 0 = seq_len (+1 with a class token)
    position: str = "learned"
    relative_buckets: int = 32     # T5-style relative position bias
    rope_theta: float = 10000.0
    type_vocab: int = 0            # BERT token-type embeddings
    embed_norm: bool = False       # BERT LayerNorm after the embeddings
    pooler: bool = False           # BERT pooler (dense + tanh on the first token)
    image_size: int = 0
    patch_size: int = 0
    channels: int = 3
    num_classes: int = 0
    class_token: bool = True       # ViT CLS token (the paper's FLOP convention drops it: 196 tokens)
    causal: bool = False
    tie_embeddings: bool = False
    head: str = "lm"
    batch: int = 1
    source: str = ""               # where the shape comes from (paper, model card)
    roles: tuple = ()              # user role map: ((module path glob, role), ...) — YAML: {glob: role}

    # ---- derived -------------------------------------------------------------------------------
    @property
    def is_image(self) -> bool:
        return self.family in families.REGISTRY and families.family(self.family).image

    @property
    def is_enc_dec(self) -> bool:
        return self.family in families.REGISTRY and families.family(self.family).enc_dec

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    def has_bias(self, role: str) -> bool:
        """Whether the linear layer of ``role`` (:data:`BIAS_ROLES`) has a bias (``bias: true`` leaves the LM head
        without one; a classifier head always has one)."""
        if isinstance(self.bias, tuple):
            return role in self.bias
        return self.bias and role != "head"

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.d_model // self.heads

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2 if self.is_image else 0

    @property
    def tokens(self) -> int:
        """Sequence length the stack sees (image models: patches + class token)."""
        if self.is_image:
            return self.num_patches + int(self.class_token)
        return self.seq_len

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` (API callers may give ``roles`` as a {glob: role} mapping, ``bias`` as a list),
        checked as a workload file is."""
        checked = FIELDS.check(SpecReader(self.name), {**_file_values(self), **changes}, (), None)
        cfg = dataclasses.replace(self, **_as_fields(checked))
        cfg._check_across(self.name, ())
        return cfg

    def check_shape(self, batch: int, seq: int | None = None, past: int = 0) -> None:
        """Refuse a run shape the model cannot take: sizes out of range, or more positions than a learned
        position table holds (GPT-2 has 1,024: 4,096 tokens, or a decode context past 1,024, is an error)."""
        for name, value in (("batch", batch), ("seq", seq), ("context", past)):
            if value is not None:
                _check_run_size(name, value, self.name)
        if not self.is_image:
            self._check_positions(None if seq is None else int(seq), int(past or 0))

    def _check_positions(self, seq: int | None, past: int) -> None:
        """New tokens plus KV cache within the limit and, with learned positions, within the table."""
        positions = (seq or self.seq_len) + past
        if positions > MAX_TOKENS:
            raise UserError(f"{positions:,} positions exceed the limit of {MAX_TOKENS:,}", f"{self.name}: seq")
        if self.position != "learned":
            return
        table = self.max_positions or self.seq_len
        new = seq or self.seq_len
        if not past and new > table:
            raise UserError(f"{new:,} tokens exceed the model's {table:,} learned positions (max_positions)",
                            f"{self.name}: seq")
        if past and (past > table or new > table):
            raise UserError(f"a {past:,}-token KV cache exceeds the model's {table:,} learned positions "
                            "(max_positions)", f"{self.name}: context")

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, source: str = "<config>", path: tuple = ()) -> "ModelConfig":
        """A workload from its fields (a workload file, or a ``model:`` section at ``path`` of ``source``),
        checked by :data:`FIELDS` (the shared schema checks), then across fields."""
        checked = FIELDS.check(SpecReader(source), data, path, None)
        cfg = cls(**_as_fields(checked))
        cfg._check_across(source, path)
        return cfg

    def validate(self, source: str = "<config>", path: tuple = ()) -> None:
        """UserError naming ``source`` and the field of the first check that fails (field checks, then the
        checks across fields)."""
        FIELDS.check(SpecReader(source), _file_values(self), path, None)
        self._check_across(source, path)

    def _check_across(self, source: str, path: tuple) -> None:
        for name, fails, message in CROSS_FIELD_CHECKS:
            if fails(self):
                raise UserError(message(self), field_path(source, *path, name))


def _check_run_size(name: str, value, model: str) -> None:
    """A run's batch, seq or context (``name``): an integer (numpy integers too; floats and bools are refused)
    from 1 (context: 0) to the limit."""
    low = 0 if name == "context" else 1
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= MAX_TOKENS:
        limit = MAX_SIZE["batch"] if name == "batch" else MAX_TOKENS
        raise UserError(f"must be an integer from {low} to {limit:,}, got {short_repr(value)}", f"{model}: {name}")


CHOICES = (("family", FAMILIES), ("ffn_kind", FFN_KINDS), ("norm", NORMS), ("position", POSITIONS), ("head", HEADS),
           ("norm_position", ("pre", "post")))
POSITIVE = ("layers", "d_model", "heads", "ffn", "batch", "channels", "relative_buckets", "seq_len", "experts_per_token")
POSITIVE_OR_NULL = ("kv_heads", "head_dim", "rotary_dim")
NON_NEGATIVE = ("decoder_layers", "vocab", "type_vocab", "max_positions", "num_classes", "image_size", "patch_size",
                "experts", "routing_skew")
POSITIVE_FINITE = ("norm_eps", "rope_theta")
AT_MOST = {**MAX_SIZE, "routing_skew": MAX_SKEW}


def _bias(r, value, path, src):
    """``bias:`` true/false, or a list of :data:`BIAS_ROLES` (each once) -> a tuple."""
    if not isinstance(value, list):
        return r.boolean(value, path)
    for role in value:
        if role not in BIAS_ROLES:
            raise r.fail(f"unknown role {short_repr(role)} (a list names some of {', '.join(BIAS_ROLES)})", *path)
    if len(set(value)) != len(value):
        raise r.fail(f"a role is listed twice: {short_repr(value)}", *path)
    return tuple(value)


def _roles(r, value, path, src):
    """``{module-path glob: role}`` -> ((glob, role), ...); roles from :mod:`nmsim.graph.roles`."""
    from nmsim.graph.roles import USER_ROLES

    if not isinstance(value, dict):
        raise r.fail(f"expected a mapping of module-path globs to roles, got {short_repr(value)}", *path)
    for glob, role in value.items():
        if not isinstance(glob, str) or not glob:
            raise r.fail(f"module-path globs are strings, got {short_repr(glob)}", *path)
        Choice(USER_ROLES, what="role").check(r, role, path + (glob,), src)
    return tuple(value.items())


def _field_node(f: dataclasses.Field) -> Node:
    """The check of one :class:`ModelConfig` field, from its type and the tables above."""
    special = {"bias": Custom(_bias, {}), "roles": Custom(_roles, {})}
    if f.name in special:
        return special[f.name]
    base = str(f.type).split("|")[0].strip()
    if f.name in dict(CHOICES):
        node: Node = Choice(tuple(dict(CHOICES)[f.name]), what=f.name, text=True)
    elif base in ("int", "float"):
        node = Plain(positive=f.name not in NON_NEGATIVE, integer=base == "int", at_most=AT_MOST.get(f.name))
    else:
        node = Bool() if base == "bool" else Text(empty=True)
    return Nullable(node) if f.name in POSITIVE_OR_NULL else node


#: the workload file's fields (none required: defaults apply), checked as every input file is (nmsim.io.spec_nodes)
FIELDS = Obj({f.name: Field(_field_node(f)) for f in dataclasses.fields(ModelConfig)}, sourced=False)
FLOATS = tuple(f.name for f in dataclasses.fields(ModelConfig) if str(f.type) == "float")


def _as_fields(checked: dict) -> dict:
    """Checked file values as :class:`ModelConfig` fields (whole numbers given for float fields as floats)."""
    return {k: float(v) if k in FLOATS else v for k, v in checked.items()}


def _file_values(cfg: ModelConfig) -> dict:
    """The fields as a file would write them (roles a mapping, a bias tuple a list, numpy integers ints), for the
    checks of :meth:`ModelConfig.validate` and :meth:`ModelConfig.replace`."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "roles":
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (bool, int, float)) and hasattr(value, "__index__"):
            value = operator.index(value)
        out[f.name] = value
    return out


# Checks across fields, in order: (field, fails(cfg), message(cfg)); run once every field is in range.
CROSS_FIELD_CHECKS = (
    ("norm_eps", lambda c: c.norm_eps >= 1, lambda c: f"must be below 1, got {c.norm_eps!r}"),
    ("heads", lambda c: c.head_dim is None and c.d_model % c.heads,
     lambda c: f"heads ({c.heads}) must divide d_model ({c.d_model})"),
    ("kv_heads", lambda c: c.kv_heads is not None and (c.kv_heads < 1 or c.heads % c.kv_heads),
     lambda c: f"kv_heads ({c.kv_heads}) must divide heads ({c.heads})"),
    ("decoder_layers", lambda c: c.is_enc_dec and c.decoder_layers < 1,
     lambda c: f"family {c.family} needs decoder_layers >= 1"),
    ("image_size", lambda c: c.is_image and c.image_size < 1, lambda c: "vit needs image_size and patch_size"),
    ("patch_size", lambda c: c.is_image and c.patch_size < 1, lambda c: "vit needs image_size and patch_size"),
    ("patch_size", lambda c: c.is_image and c.image_size % c.patch_size,
     lambda c: f"patch_size ({c.patch_size}) must divide image_size ({c.image_size})"),
    ("vocab", lambda c: not c.is_image and c.vocab < 1, lambda c: f"family {c.family} needs vocab >= 1"),
    ("max_positions", lambda c: (not c.is_image and c.position == "learned" and c.max_positions
                                 and c.max_positions < c.seq_len),
     lambda c: f"max_positions ({c.max_positions}) < seq_len ({c.seq_len})"),
    ("num_classes", lambda c: c.head == "classifier" and c.num_classes < 1,
     lambda c: "a classifier head needs num_classes >= 1"),
    ("head_dim", lambda c: c.position == "rope" and c.dim_head % 2, lambda c: "rope needs an even head dimension"),
    ("rotary_dim", lambda c: c.rotary_dim is not None and c.position != "rope",
     lambda c: f"needs position: rope, got {c.position}"),
    ("rotary_dim", lambda c: c.rotary_dim is not None and (c.rotary_dim % 2 or c.rotary_dim > c.dim_head),
     lambda c: f"must be even and at most the head dimension ({c.dim_head}), got {c.rotary_dim}"),
    ("parallel_block", lambda c: c.parallel_block and (c.norm_position != "pre" or c.is_enc_dec),
     lambda c: "a parallel block needs norm_position: pre and a single-stack family"),
    ("experts_per_token", lambda c: c.experts and c.experts_per_token > c.experts,
     lambda c: f"must be at most experts ({c.experts}), got {c.experts_per_token}"),
    ("experts", lambda c: c.experts and c.is_enc_dec,
     lambda c: f"mixture-of-experts layers are modelled in single-stack models, not family {c.family}"),
)
