"""The parameters each execution model takes in a hardware spec's ``execution:`` section (the models in
``nmsim.execution`` read them from here: adding a model is its module plus its entry in :data:`MODELS`)."""
from __future__ import annotations

from nmsim.errors import UserError
from nmsim.io.spec_nodes import Bool, Choice, Custom, DictOf, Field, ListOf, Number, Obj, Tagged, Text
from nmsim.sparsity.metadata import DTYPE_BYTES, ENCODINGS

DTYPE = Choice(tuple(DTYPE_BYTES), what="dtype")

KERNEL_KINDS = ("dense", "sparse-tensor-core", "compressed-weight")
DATAFLOWS = ("ws", "os", "is")
UNKNOWN_PARAM = "unknown key {key} for execution model '%s' ({hint}allowed: {allowed})"
SPARSE_PATTERN = "^\\d+:\\d+(/\\d+:\\d+)*T?$"


def sparse_pattern(r, text, path, need: str):
    """A sparse N:M (or hierarchical) pattern written as text; ``need`` ends the not-sparse message."""
    from nmsim.sparsity.hierarchical import parse_any
    try:
        pattern = parse_any(str(text))
    except UserError as exc:
        raise r.fail(exc.message, *path) from None
    if pattern is None or pattern.is_dense:
        raise r.fail(f"{str(text)!r} is not a sparse N:M pattern{need}", *path)
    return pattern


def _arch(r, value, path, src) -> str:
    if not (isinstance(value, str) and value.startswith("sm") and value[2:].isdigit()):
        raise r.fail(f"expected a compute capability like sm80 or sm90, got {value!r}", *path)
    return value


def _kernel_patterns(r, value, path, src):
    if value == "any":
        return "any"
    if not isinstance(value, list) or not value:
        raise r.fail("a sparse kernel needs patterns: a list of N:M patterns or any", *path)
    return tuple(sparse_pattern(r, text, path + (i,), "") for i, text in enumerate(value))


def _split_k(r, value, path, src):
    return value if value == "auto" else r.boolean(value, path)


def _tile_list(r, value, path, src):
    """``tile: {m, n}`` or a list of them (the kernel runs each GEMM on the fastest): a tuple of (m, n)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise r.fail("expected a tile {m, n} or a non-empty list of them", *path)
    out = []
    for i, item in enumerate(items):
        tile = TILE.check(r, item, path + ((i,) if isinstance(value, list) else ()), src)
        out.append((int(tile.get("m", 128)), int(tile.get("n", 128))))
    return tuple(out)


def _stage_k(r, value, path, src):
    """A staged reduction depth, or ``{default: K, DENSITY: K}``: ((density or None, K), ...)."""
    if not isinstance(value, dict):
        return ((None, COUNT.check(r, value, path, src)),)
    value, src = r.mapping(value, path, None, src)
    if "default" not in value:
        raise r.fail("missing required field 'default'", *path)
    out = []
    for key, depth in value.items():
        if key == "source":
            continue
        density = None
        if key != "default":
            try:
                density = float(key)
            except ValueError:
                density = -1.0
            if not 0.0 < density <= 1.0:
                raise r.fail(f"a stage_k key is a pattern density in (0, 1] or default, got {key!r}", *path, key)
        out.append((density, COUNT.check(r, depth, path + (key,), src)))
    return tuple(out)


def _kernel_rules(r, k, path):
    if k["kind"] != "dense" and "patterns" not in k:
        raise r.fail("a sparse kernel needs patterns: a list of N:M patterns or any", *path, "patterns")
    if k["kind"] == "dense" and "patterns" in k:
        raise r.fail("a dense kernel takes no patterns", *path, "patterns")
    if "index_columns" in k and k["kind"] != "compressed-weight":
        raise r.fail("only a compressed-weight kernel takes index_columns", *path, "index_columns")


def _gpu_rules(r, p, path):
    if not any(k["kind"] == "dense" for k in p["kernels"].values()):
        raise r.fail("needs at least one dense kernel", *path, "kernels")
    if "arch" not in p and any("arch" in k for k in p["kernels"].values()):
        raise r.fail("a kernel names an arch: the GPU needs one too", *path, "arch")


def _activation_rule(r, p, path):
    if p.get("activation_nm") not in (None, "dense") and p["dataflow"] != "os":
        raise r.fail(f"activation density-bound blocks need dataflow os (the reduction streams in time), not "
                     f"{p['dataflow']}", *path, "activation_nm")


def _activation_nm(r, value, path, src):
    from nmsim.sparsity.pattern import NMPattern
    text = r.text(value, path)
    try:
        pattern = NMPattern.parse(text)
    except UserError as exc:
        raise r.fail(exc.message, *path) from None
    return "dense" if pattern is None else f"{pattern.n}:{pattern.m}"


DTYPES = ListOf(DTYPE, message="expected a non-empty list of dtypes")
TILE = Obj({"m": Field(Number(integer=True)), "n": Field(Number(integer=True))})
ARCH = Custom(_arch, {"type": "string", "pattern": "^sm\\d+$"}, "compute capability, e.g. sm80")
COUNT = Number(integer=True)
FRACTION = Number(at_most=1.0)

#: a gpu kernel: name -> these fields (``nmsim.execution.gpu.Kernel``); the fittable ones are calibrated by
#: ``nmsim validate`` within these ranges
KERNEL = Obj({
    "kind": Field(Choice(KERNEL_KINDS, what="kernel kind"), required=True),
    "dtypes": Field(DTYPES, required=True),
    "weight_dtypes": Field(DTYPES),
    "patterns": Field(Custom(_kernel_patterns, {"oneOf": [{"const": "any"}, {
        "type": "array", "minItems": 1, "items": {"type": "string", "pattern": SPARSE_PATTERN}}]},
        "hardware N:M patterns the kernel runs, or any")),
    "max_m": Field(COUNT),
    "tile": Field(Custom(_tile_list, {"oneOf": [TILE.json(), {"type": "array", "minItems": 1, "items": TILE.json()}]},
                         "output tile {m, n}, or a list of them: each GEMM runs on the fastest")),
    "occupancy": Field(Obj({
        "threads": Field(COUNT, required=True),
        "stage_k": Field(Custom(_stage_k, {"oneOf": [{"type": "integer"}, {"type": "object"}]},
                                "reduction depth staged in shared memory per step, or {default: K, DENSITY: K}"),
                         required=True),
        "latency_warps": Field(Number(), required=True)},
        description="threads per block, staged depth and the resident warps the kernel's math needs")),
    "min_rows": Field(COUNT),
    "offered_from_rows": Field(COUNT),
    "efficiency": Field(FRACTION),
    "fp8_efficiency": Field(FRACTION),
    "bandwidth_efficiency": Field(FRACTION),
    "launch_us": Field(Number(positive=False)),
    "overlap": Field(Number(positive=False, at_most=1.0)),
    "decode_ns_per_nnz": Field(Number(positive=False)),
    "small_m": Field(Obj({"rows_below": Field(COUNT, required=True), "efficiency": Field(FRACTION, required=True)})),
    "metadata": Field(Choice(ENCODINGS, what="metadata encoding")),
    "transposed": Field(Bool()),
    "split_k": Field(Custom(_split_k, {"oneOf": [{"type": "boolean"}, {"const": "auto"}]})),
    "note": Field(Text()),
    "tile_overhead_k": Field(Number(positive=False)),
    "arch": Field(ARCH),
    "index_columns": Field(COUNT),
    "efficiency_rate": Field(Number(description="dense FLOPs per SM per clock the efficiency was fitted at: the "
                                                "kernel's issue time per FLOP does not shrink at a slower tensor rate")),
    "warp_tile": Field(Obj({"m": Field(COUNT, required=True), "n": Field(COUNT, required=True)},
                           description="warp tile of a register-fed MMA kernel: with the GPU's boost_mhz and "
                                       "sm_limits.shared_bytes_per_clk it bounds the operand feed")),
}, rules=(_kernel_rules,), needs_source="kernel needs a source: (where its numbers come from)")

GPU = Obj({
    "sms": Field(COUNT, required=True),
    "kernels": Field(DictOf(KERNEL), required=True),
    "board_watts": Field(Number()),
    "boost_mhz": Field(Number(description="the clock the matrix peaks are listed at (MHz): FLOPs per SM per clock")),
    "sustained_mhz": Field(Number(description="the clock a model run holds at the board's power limit (MHz); "
                                              "GEMMs timed alone run at boost_mhz")),
    "arch": Field(ARCH),
    "older_arch_peak_fraction": Field(FRACTION),
    "vector_launch_us": Field(Number(positive=False)),
    "host_op_us": Field(Number(positive=False)),
    "kernel_gap_us": Field(Number(positive=False)),
    "vector_bandwidth_efficiency": Field(Number(at_most=1.0, description="share of the DRAM bandwidth an element-wise "
                                                "kernel reaches (a measured STREAM-like copy/triad rate); absent: 1")),
    "l2_bandwidth_gbps": Field(Number(description="L2 -> SM read bandwidth (GB/s); absent: not L2-limited")),
    "l2_mib": Field(Number(description="L2 capacity (MiB): split-K partials that fit stay in L2 (with "
                                       "l2_bandwidth_gbps); absent: they go to DRAM")),
    "sm_limits": Field(Obj({"shared_kib": Field(Number(), required=True), "blocks": Field(COUNT, required=True),
                            "warps": Field(COUNT, required=True),
                            "reserved_kib_per_block": Field(Number(positive=False)),
                            "shared_bytes_per_clk": Field(Number())},
                           description="per-SM shared memory, resident blocks and warps; absent: no occupancy limit")),
}, rules=(_gpu_rules,), unknown=UNKNOWN_PARAM % "gpu")

# The kernel fields a calibration may set (``nmsim validate``'s fits): field -> (Kernel attribute, the range the
# schema accepts as ``r.number`` keywords: KERNEL's).
FIT_FIELDS = {"efficiency": ("efficiency", KERNEL.fields["efficiency"].node.limits),
              "fp8_efficiency": ("fp8_efficiency", KERNEL.fields["fp8_efficiency"].node.limits),
              "bandwidth_efficiency": ("bandwidth_efficiency", KERNEL.fields["bandwidth_efficiency"].node.limits),
              "overlap": ("overlap", KERNEL.fields["overlap"].node.limits),
              "small_m.efficiency": ("small_m_efficiency",
                                     KERNEL.fields["small_m"].node.fields["efficiency"].node.limits),
              "tile_overhead_k": ("tile_overhead_k", KERNEL.fields["tile_overhead_k"].node.limits),
              "occupancy.latency_warps": ("latency_warps",
                                          KERNEL.fields["occupancy"].node.fields["latency_warps"].node.limits)}
# The GPU-level fields a calibration may set: field -> (params key, multiplier to it, ``r.number`` range).
GPU_FIT_FIELDS = {"host_op_us": ("host_op_s", 1e-6, GPU.fields["host_op_us"].node.limits),
                  "kernel_gap_us": ("kernel_gap_s", 1e-6, GPU.fields["kernel_gap_us"].node.limits)}

SYSTOLIC = Obj({
    "rows": Field(COUNT, required=True),
    "cols": Field(COUNT, required=True),
    "clock_ghz": Field(Number(), required=True),
    "dataflow": Field(Choice(DATAFLOWS, what="dataflow", text=True, lower=True), required=True),
    "sram_kib": Field(Obj({"ifmap": Field(Number()), "filter": Field(Number()), "ofmap": Field(Number())})),
    "metadata_bits_per_cycle": Field(Number()),
    "activation_nm": Field(Custom(_activation_nm, {"type": "string", "pattern": "^(dense|\\d+:\\d+)$"},
                                  "dataflow os: activations pruned to this N:M density bound at run time")),
}, rules=(_activation_rule,), unknown=UNKNOWN_PARAM % "systolic",
    missing="missing required field {key} for the systolic model")

ROOFLINE = Obj({}, unknown=UNKNOWN_PARAM % "roofline")

#: execution model name -> its parameters (``nmsim.execution.MODEL_MODULES`` names the same models)
MODELS = {"roofline": ROOFLINE, "gpu": GPU, "systolic": SYSTOLIC}

EXECUTION = Tagged("model", MODELS, default="roofline", what="execution model", common={
    "fusion": Field(Obj({"attention": Field(Bool()), "epilogue": Field(Bool())}))},
    description="the execution model that prices GEMMs (roofline when absent) and its parameters")
