"""Load and validate accelerator YAML into :class:`HardwareSpec` (schema: ``nmsim/data/hardware_specs/README.md``).

Every problem raises :class:`UserError` whose ``where`` is ``<file>: <field.path>``.

Source rule: every number is either written ``{value: X, source: "..."}`` or sits inside a mapping (below the
top level) that has its own ``source:`` key — the nearest such key covers it.
"""
from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import yaml

from nmsim.errors import UserError, field_path
from nmsim.hardware.spec import HardwareSpec, MemoryLevel, SparseSupport, Tile
from nmsim.sparsity.hierarchical import parse_any
from nmsim.sparsity.metadata import DTYPE_BYTES, ENCODINGS

SPEC_DIR = Path(__file__).resolve().parent.parent / "data" / "hardware_specs"
KINDS = ("gpu", "tpu", "systolic", "matrix-engine", "hierarchical-engine", "ideal")
RATIO_TOLERANCE = 1e-3  # published sparse peaks are rounded (H100: 989.4 -> 1978.9)

TOP_KEYS = {"name": True, "description": True, "kind": True, "matrix": True, "vector_tflops": True,
            "memory": True, "aliases": False, "sparse_support": False, "padding": False, "efficiency": False,
            "energy": False, "derivation": False, "notes": False, "execution": False}



def _yaml_text_hint(node) -> str:
    """YAML 1.1 reads ``1e30`` (no dot) as text: say how to write it as a number."""
    if not isinstance(node, str):
        return ""
    try:
        value = float(node)
    except ValueError:
        return ""
    if not math.isfinite(value):
        return ""
    mantissa, exponent = f"{value:e}".split("e")
    mantissa = mantissa.rstrip("0") + ("0" if mantissa.rstrip("0").endswith(".") else "")
    return f" (YAML reads {node} as text: write {mantissa}e{exponent})"

class SpecReader:
    """Walks one YAML document, recording sources, raising UserError with field paths (hardware specs and
    system specs, :mod:`nmsim.cluster.system`, share it: one set of field rules)."""

    def __init__(self, file: str):
        self.file = file
        self.sources: dict[str, str] = {}

    def fail(self, message: str, *path) -> UserError:
        return UserError(message, field_path(self.file, *path))

    def mapping(self, node, path: tuple, keys: dict[str, bool] | None, src: str | None):
        """Check a mapping: type, unknown and missing keys; returns (node, source in force)."""
        if not isinstance(node, dict):
            raise self.fail(f"expected a mapping, got {type(node).__name__}", *path)
        for key in node:
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {key!r}", *path)
            if keys is not None and key not in keys and key != "source":
                raise self.fail(f"unknown key {key!r} (allowed: {', '.join(sorted(keys))})", *path, key)
        for key, required in (keys or {}).items():
            if required and key not in node:
                raise self.fail(f"missing required field {key!r}", *path)
        if "source" in node:
            src = self.text(node["source"], path + ("source",))
        return node, src

    def text(self, node, path: tuple) -> str:
        if not isinstance(node, str) or not node.strip():
            raise self.fail("expected a non-empty string", *path)
        return node

    def boolean(self, node, path: tuple) -> bool:
        if not isinstance(node, bool):
            raise self.fail(f"expected true or false, got {node!r}", *path)
        return node

    def number(self, node, path: tuple, src: str | None, *, positive=True, integer=False, at_most=None) -> float:
        if isinstance(node, dict):
            self.mapping(node, path, {"value": True, "source": True}, src)
            src, node = node["source"], node["value"]
            path_v = path + ("value",)
        else:
            path_v = path
        if isinstance(node, bool) or not isinstance(node, (int, float)) or (integer and not isinstance(node, int)):
            want = "an integer" if integer else "a number"
            raise self.fail(f"expected {want}, got {node!r}{'' if integer else _yaml_text_hint(node)}", *path_v)
        if not math.isfinite(node) or (positive and node <= 0) or (not positive and node < 0):
            raise self.fail(f"must be {'> 0' if positive else '>= 0'}, got {node!r}", *path_v)
        if at_most is not None and node > at_most:
            raise self.fail(f"must be <= {at_most}, got {node!r}", *path_v)
        if src is None:
            raise self.fail("missing source: write {value: X, source: \"...\"} or add source: to the section", *path)
        self.sources[field_path(None, *path)] = src
        return node

    def dtype(self, key, path: tuple) -> str:
        if key not in DTYPE_BYTES:
            raise self.fail(f"unknown dtype {key!r} (known: {', '.join(DTYPE_BYTES)})", *path)
        return key


def _matrix(r: SpecReader, node, src):
    dense, sparse = {}, {}
    node, src = r.mapping(node, ("matrix",), None, src)
    for dtype, entry in node.items():
        if dtype == "source":
            continue
        p = ("matrix", r.dtype(dtype, ("matrix", dtype)))
        entry, esrc = r.mapping(entry, p, {"dense_tflops": True, "sparse": False}, src)
        dense[dtype] = d = r.number(entry["dense_tflops"], p + ("dense_tflops",), esrc)
        options = []
        sp, ssrc = r.mapping(entry.get("sparse", {}), p + ("sparse",), None, esrc)
        for key, item in sp.items():
            if key == "source":
                continue
            kp = p + ("sparse", str(key))
            try:
                pattern = parse_any(str(key))
            except UserError as exc:
                raise r.fail(exc.message, *kp) from None
            if pattern is None or pattern.is_dense:
                raise r.fail(f"{key!r} is not a sparse N:M pattern (need N < M)", *kp)
            item, isrc = r.mapping(item, kp, {"tflops": True}, ssrc)
            tflops = r.number(item["tflops"], kp + ("tflops",), isrc)
            limit = d * pattern.m / pattern.n
            if tflops > limit * (1 + RATIO_TOLERANCE):
                raise r.fail(f"sparse peak {tflops} TFLOPS is above dense x M/N = {d} x {pattern.m}/{pattern.n} "
                             f"= {limit:g} (a 2:4 'sparse' figure entered as dense?)", *kp, "tflops")
            options.append((pattern, tflops))
        sparse[dtype] = tuple(sorted(options, key=lambda o: -o[1]))
    if not dense:
        raise r.fail("needs at least one dtype", "matrix")
    return dense, sparse


def _memory(r: SpecReader, node, src):
    if not isinstance(node, list) or not node:
        raise r.fail("expected a non-empty list of memory levels", "memory")
    levels = []
    for i, item in enumerate(node):
        p = ("memory", i)
        item, isrc = r.mapping(item, p, {"name": True, "capacity_gib": True, "bandwidth_gbps": True}, src)
        name = r.text(item["name"], p + ("name",))
        if any(level.name == name for level in levels):
            raise r.fail(f"duplicate memory level {name!r}", *p, "name")
        levels.append(MemoryLevel(name, r.number(item["capacity_gib"], p + ("capacity_gib",), isrc),
                                  r.number(item["bandwidth_gbps"], p + ("bandwidth_gbps",), isrc)))
    return tuple(levels)


def _sparse_support(r: SpecReader, node, src):
    keys = {"operand": False, "transposed_dgrad": True, "metadata_encoding": False,
            "metadata_bandwidth_gbps": False, "any_nm": False, "max_m": False, "small_m_efficiency": False}
    p = ("sparse_support",)
    node, src = r.mapping(node, p, keys, src)
    operand = node.get("operand", "weight")
    if operand not in ("weight", "activation", "both"):
        raise r.fail(f"expected weight, activation or both, got {operand!r}", *p, "operand")
    enc = node.get("metadata_encoding", "index")
    if enc not in ENCODINGS:
        raise r.fail(f"unknown metadata encoding {enc!r} (known: {', '.join(ENCODINGS)})", *p, "metadata_encoding")
    bw = node.get("metadata_bandwidth_gbps")
    max_m = node.get("max_m")
    return SparseSupport(
        operand=operand,
        transposed_dgrad=r.boolean(node["transposed_dgrad"], p + ("transposed_dgrad",)),
        metadata_encoding=enc,
        metadata_bandwidth_gbps=None if bw is None else r.number(bw, p + ("metadata_bandwidth_gbps",), src),
        any_nm=r.boolean(node.get("any_nm", False), p + ("any_nm",)),
        max_m=None if max_m is None else int(r.number(max_m, p + ("max_m",), src, integer=True)),
        small_m_efficiency=1.0 if node.get("small_m_efficiency") is None else
        r.number(node["small_m_efficiency"], p + ("small_m_efficiency",), src, at_most=1.0))


def _padding(r: SpecReader, node, src):
    p = ("padding",)
    node, src = r.mapping(node, p, {"dense": False, "sparse": False, "sparse_by_dtype": False}, src)

    def tile(item, path, tsrc, base=Tile()):
        item, tsrc = r.mapping(item, path, {"m": False, "k": False, "n": False}, tsrc)
        dims = {d: int(r.number(item[d], path + (d,), tsrc, integer=True)) for d in "mkn" if d in item}
        return Tile(**{**base.__dict__, **dims})

    dense = tile(node.get("dense", {}), p + ("dense",), src)
    sparse = tile(node.get("sparse", {}), p + ("sparse",), src)
    by_dtype, bsrc = r.mapping(node.get("sparse_by_dtype", {}), p + ("sparse_by_dtype",), None, src)
    tiles = {r.dtype(k, p + ("sparse_by_dtype", k)): tile(v, p + ("sparse_by_dtype", k), bsrc, sparse)
             for k, v in by_dtype.items() if k != "source"}
    return dense, sparse, tiles


def _efficiency(r: SpecReader, node, src):
    p = ("efficiency",)
    node, src = r.mapping(node, p, {"value": False, "curve": False}, src)
    if ("value" in node) == ("curve" in node):
        raise r.fail("give exactly one of value (a scalar) or curve (a list of [gemm_flops, efficiency])", *p)
    if "value" in node:
        return ((1.0, r.number(node["value"], p + ("value",), src, at_most=1)),)
    curve = node["curve"]
    if not isinstance(curve, list) or not curve:
        raise r.fail("expected a non-empty list of [gemm_flops, efficiency] pairs", *p, "curve")
    points = []
    for i, pair in enumerate(curve):
        q = p + ("curve", i)
        if not isinstance(pair, list) or len(pair) != 2:
            raise r.fail(f"expected a [gemm_flops, efficiency] pair, got {pair!r}", *q)
        x = r.number(pair[0], q + (0,), src)
        y = r.number(pair[1], q + (1,), src, at_most=1)
        if points and x <= points[-1][0]:
            raise r.fail("gemm_flops must increase along the curve", *q, 0)
        points.append((float(x), float(y)))
    return tuple(points)


def _energy(r: SpecReader, node, src, memory):
    p = ("energy",)
    node, src = r.mapping(node, p, {"pj_per_flop": False, "pj_per_byte": False}, src)
    flops, fsrc = r.mapping(node.get("pj_per_flop", {}), p + ("pj_per_flop",), None, src)
    per_flop = {}
    for dtype, entry in flops.items():
        if dtype == "source":
            continue
        q = p + ("pj_per_flop", r.dtype(dtype, p + ("pj_per_flop", dtype)))
        entry, esrc = r.mapping(entry, q, {"dense": True, "sparse": False}, fsrc)
        dense = r.number(entry["dense"], q + ("dense",), esrc)
        sparse = r.number(entry["sparse"], q + ("sparse",), esrc) if "sparse" in entry else dense
        per_flop[dtype] = (dense, sparse)
    levels, bsrc = r.mapping(node.get("pj_per_byte", {}), p + ("pj_per_byte",), None, src)
    per_byte = {}
    names = [m.name for m in memory]
    for level, value in levels.items():
        if level == "source":
            continue
        if level not in names:
            raise r.fail(f"unknown memory level {level!r} (levels: {', '.join(names)})", *p, "pj_per_byte", level)
        per_byte[level] = r.number(value, p + ("pj_per_byte", level), bsrc)
    return per_flop, per_byte


def _execution(r: SpecReader, node) -> dict:
    """``execution: {model: NAME, fusion: {attention, epilogue}, source, ...model keys}``; the model's own keys
    are checked by its class (``ExecutionModel.check_params`` / ``parse_params``)."""
    p = ("execution",)
    node, src = r.mapping(node, p, None, None)
    model = r.text(node.get("model", "roofline"), p + ("model",))
    out: dict = {"model": model}
    if "fusion" in node:
        fusion, _ = r.mapping(node["fusion"], p + ("fusion",), {"attention": False, "epilogue": False}, src)
        out["fusion"] = {k: r.boolean(v, p + ("fusion", k)) for k, v in fusion.items() if k != "source"}
    if src is not None:
        out["source"] = src
    from nmsim.execution import model_class
    cls = model_class(model, field_path(r.file, *p, "model"))
    params = {k: v for k, v in node.items() if k not in ("model", "fusion", "source")}
    cls.check_params(params, field_path(r.file, *p))
    parse = getattr(cls, "parse_params", None)
    out.update(parse(r, params, p, src) if parse is not None else params)
    return out


def parse_spec(doc, file: str, path: str | None = None) -> HardwareSpec:
    """Validate a parsed YAML document (``file`` names it in messages) and build the spec."""
    r = SpecReader(file)
    doc, _ = r.mapping(doc, (), TOP_KEYS, None)
    if "source" in doc:
        raise r.fail("unknown key 'source' at the top level (put source: on a section or a value)", "source")
    name = r.text(doc["name"], ("name",))
    kind = doc["kind"]
    if kind not in KINDS:
        raise r.fail(f"unknown kind {kind!r} (known: {', '.join(KINDS)})", "kind")
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise r.fail("expected a list of names", "aliases")
    dense, sparse = _matrix(r, doc["matrix"], None)
    vec, vsrc = r.mapping(doc["vector_tflops"], ("vector_tflops",), None, None)
    vector = {r.dtype(k, ("vector_tflops", k)): r.number(v, ("vector_tflops", k), vsrc)
              for k, v in vec.items() if k != "source"}
    if not vector:
        raise r.fail("needs at least one dtype", "vector_tflops")
    memory = _memory(r, doc["memory"], None)
    support = _sparse_support(r, doc["sparse_support"], None) if "sparse_support" in doc else None
    if support is None and any(sparse.values()):
        raise r.fail("sparse peaks are listed but the sparse_support section is missing", "sparse_support")
    dense_tile, sparse_tile, by_dtype = _padding(r, doc.get("padding", {}), None)
    efficiency = _efficiency(r, doc["efficiency"], None) if "efficiency" in doc else ((1.0, 1.0),)
    per_flop, per_byte = _energy(r, doc.get("energy", {}), None, memory)
    for key in ("description", "derivation", "notes"):
        if key in doc:
            r.text(doc[key], (key,))
    execution = _execution(r, doc["execution"]) if "execution" in doc else {"model": "roofline"}
    return HardwareSpec(
        name=name, description=doc["description"], kind=kind, matrix_dense=dense, matrix_sparse=sparse,
        vector=vector, memory=memory, sparse=support, dense_tile=dense_tile, sparse_tile=sparse_tile,
        sparse_tile_by_dtype=by_dtype, efficiency_points=efficiency, energy_flop=per_flop, energy_byte=per_byte,
        aliases=tuple(aliases), derivation=doc.get("derivation"), sources=r.sources, path=path,
        execution=execution)


def read_document(path: str | os.PathLike, what: str):
    """The parsed YAML of a spec file (``what``: "hardware spec", "system file") and its name for messages."""
    from nmsim.io.read import parse_yaml, read_text

    p = Path(path)
    file = p.name
    if not os.path.lexists(p):
        raise UserError("no such file", str(path))
    # encoding, size, folder and permission problems, duplicate keys, alias bombs and deep nesting: nmsim.io
    doc = parse_yaml(read_text(p, what), file)
    if doc is None:
        raise UserError("empty file", file)
    return doc, file


def load_file(path: str | os.PathLike) -> HardwareSpec:
    doc, file = read_document(path, "hardware spec")
    return parse_spec(doc, file, str(Path(path)))


def _bundled_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SPEC_DIR.glob("*.yaml"))}


@lru_cache(maxsize=None)
def _load_bundled(stem: str) -> HardwareSpec:
    path = _bundled_files()[stem]
    fast = getattr(yaml, "CSafeLoader", None)  # libyaml: the alias table parses every bundled spec at start-up
    if fast is None:
        return load_file(path)
    return parse_spec(yaml.load(path.read_text(), Loader=fast), path.name, str(path))


@lru_cache(maxsize=1)
def _alias_table() -> dict[str, str]:
    """Name and aliases of each bundled spec, read from the YAML alone (no spec is parsed or validated here,
    so resolving a name, or refusing a mistyped one, imports no execution model)."""
    table = {}
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for stem, path in _bundled_files().items():
        doc = yaml.load(path.read_text(), Loader=fast)
        doc = doc if isinstance(doc, dict) else {}
        aliases = doc.get("aliases") if isinstance(doc.get("aliases"), list) else []
        for alias in (doc.get("name", stem), *aliases):
            if isinstance(alias, str):
                table.setdefault(alias, stem)
    return table


def list_specs() -> list[str]:
    """Names (file stems) of the bundled specs."""
    return list(_bundled_files())


def load(name_or_path: str | os.PathLike) -> HardwareSpec:
    """A bundled spec by name or alias (``a100``), or a YAML file path."""
    text = str(name_or_path)
    files = _bundled_files()
    if text in files:
        return _load_bundled(text)
    looks_like_path = text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text
    aliases = {alias.lower(): stem for alias, stem in _alias_table().items()}   # A100 is a100
    if not looks_like_path and text.lower() in aliases:
        return _load_bundled(aliases[text.lower()])
    if looks_like_path or os.path.exists(text):
        return load_file(text)
    raise UserError(f"unknown hardware: not a bundled spec ({', '.join(files)}) nor an existing file", text)


def parse_hardware_list(text, where: str = "--hardware") -> list[str]:
    """The one grammar of every hardware list: ``"a100,h100"``, ``all`` (every bundled spec) or spec files, as
    text or a sequence -> names/paths in order, without duplicates (loading them stays with the caller)."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    names = list(dict.fromkeys(str(t).strip() for t in items if str(t).strip()))
    if not names:
        raise UserError("no hardware given", where)
    if [n.lower() for n in names] == ["all"]:
        return list_specs()
    if "all" in (n.lower() for n in names):
        raise UserError("all stands alone (it is every bundled spec)", where)
    return names
