"""Load accelerator YAML into :class:`HardwareSpec`: the document is checked by its declarative schema
(:data:`nmsim.schema.hardware.HARDWARE`, published as ``nmsim/data/hardware_specs/schema.json``; fields in that
folder's README), then built into typed, frozen parts here.

Every problem raises :class:`UserError` whose ``where`` is ``<file>: <field.path>``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from nmsim.errors import UserError
from nmsim.hardware.spec import HardwareSpec, Kernel, MemoryLevel, SmLimits, SparseSupport, Tile
from nmsim.schema.hardware import HARDWARE, KINDS, RATIO_TOLERANCE
from nmsim.io.spec_reader import SpecReader, read_document
from nmsim.sparsity.hierarchical import parse_any

SPEC_DIR = Path(__file__).resolve().parent.parent / "data" / "hardware_specs"
__all__ = ["KINDS", "RATIO_TOLERANCE", "SPEC_DIR", "SpecReader", "list_specs", "load", "load_file",
           "parse_hardware_list", "parse_spec", "read_document"]


def _tile(node: dict, base: Tile = Tile()) -> Tile:
    return Tile(**{**base.__dict__, **node})


def _kernel(name: str, k: dict) -> Kernel:
    """A gpu kernel from its checked fields (defaults and units: ``Kernel``)."""
    patterns = k.get("patterns")
    small = k.get("small_m", {"rows_below": 1, "efficiency": 1.0})
    tiles = k.get("tile", ((128, 128),))
    occ = k.get("occupancy")
    warp = k.get("warp_tile", {"m": 0, "n": 0})
    return Kernel(
        name=name, kind=k["kind"], dtypes=tuple(k["dtypes"]),
        weight_dtypes=tuple(k["weight_dtypes"]) if "weight_dtypes" in k else None,
        patterns=None if patterns in (None, "any") else patterns, any_nm=patterns == "any",
        max_m=k.get("max_m"), tile_m=tiles[0][0], tile_n=tiles[0][1], tiles=tiles if len(tiles) > 1 else (),
        min_rows=int(k.get("min_rows", 1)), offered_from_rows=int(k.get("offered_from_rows", 1)),
        efficiency=k.get("efficiency", 0.8), fp8_efficiency=k.get("fp8_efficiency"),
        bandwidth_efficiency=k.get("bandwidth_efficiency", 0.9),
        launch_s=k.get("launch_us", 3.0) * 1e-6, overlap=k.get("overlap", 1.0),
        decode_s_per_nnz=k.get("decode_ns_per_nnz", 0.0) * 1e-9,
        small_m_rows=int(small["rows_below"]), small_m_efficiency=small["efficiency"],
        metadata=k.get("metadata", "index"), transposed=k.get("transposed", False),
        split_k=k.get("split_k") is True, split_k_auto=k.get("split_k") == "auto",
        tile_overhead_k=k.get("tile_overhead_k", 0.0), index_columns=int(k.get("index_columns", 0)),
        arch=k.get("arch"), warp_m=int(warp["m"]), warp_n=int(warp["n"]),
        efficiency_rate=k.get("efficiency_rate", 0.0), **({} if occ is None else {"threads": int(occ["threads"]), "stage_k": occ["stage_k"],
                                                        "latency_warps": occ["latency_warps"]}))


def _sm_limits(s: dict | None) -> SmLimits | None:
    if s is None:
        return None
    return SmLimits(shared_bytes=s["shared_kib"] * 1024.0, blocks=int(s["blocks"]), warps=int(s["warps"]),
                    reserved_bytes=s.get("reserved_kib_per_block", 0.0) * 1024.0,
                    shared_bytes_per_clk=s.get("shared_bytes_per_clk", 0.0))


def _execution(e: dict | None) -> dict:
    """The checked ``execution`` section in the form the execution models read (gpu: kernels built, times in s)."""
    if e is None:
        return {"model": "roofline"}
    if e["model"] != "gpu":
        return e
    out = {k: v for k, v in e.items() if k not in ("vector_launch_us", "host_op_us", "kernel_gap_us")}
    out.update(kernels=tuple(_kernel(str(n), k) for n, k in e["kernels"].items()), arch=e.get("arch"),
               board_watts=e.get("board_watts"), boost_mhz=e.get("boost_mhz"), sustained_mhz=e.get("sustained_mhz"),
               l2_bandwidth_gbps=e.get("l2_bandwidth_gbps"),
               older_arch_peak_fraction=e.get("older_arch_peak_fraction", 1.0), sm_limits=_sm_limits(e.get("sm_limits")),
               vector_launch_s=e.get("vector_launch_us", 0.0) * 1e-6, host_op_s=e.get("host_op_us", 0.0) * 1e-6,
               kernel_gap_s=e.get("kernel_gap_us", 0.0) * 1e-6)
    return out


def _efficiency(node: dict | None) -> tuple:
    if node is None:
        return ((1.0, 1.0),)
    return ((1.0, node["value"]),) if "value" in node else tuple(node["curve"])


def parse_spec(doc, file: str, path: str | None = None) -> HardwareSpec:
    """Check a parsed YAML document against the hardware schema (``file`` names it in messages) and build it."""
    r = SpecReader(file)
    d = HARDWARE.check(r, doc, (), None)
    sparse = {dtype: tuple(sorted(((parse_any(str(p)), item["tflops"]) for p, item in e.get("sparse", {}).items()),
                                  key=lambda o: -o[1]))
              for dtype, e in d["matrix"].items()}
    support = d.get("sparse_support")
    padding = d.get("padding", {})
    sparse_tile = _tile(padding.get("sparse", {}))
    energy = d.get("energy", {})
    return HardwareSpec(
        name=d["name"], description=d["description"], kind=d["kind"],
        matrix_dense={dtype: e["dense_tflops"] for dtype, e in d["matrix"].items()}, matrix_sparse=sparse,
        vector=d["vector_tflops"],
        memory=tuple(MemoryLevel(m["name"], m["capacity_gib"], m["bandwidth_gbps"]) for m in d["memory"]),
        sparse=None if support is None else SparseSupport(**support),
        dense_tile=_tile(padding.get("dense", {})), sparse_tile=sparse_tile,
        sparse_tile_by_dtype={k: _tile(v, sparse_tile) for k, v in padding.get("sparse_by_dtype", {}).items()},
        efficiency_points=_efficiency(d.get("efficiency")),
        energy_flop={k: (v["dense"], v.get("sparse", v["dense"])) for k, v in energy.get("pj_per_flop", {}).items()},
        energy_byte=energy.get("pj_per_byte", {}), aliases=tuple(d.get("aliases", ())),
        derivation=d.get("derivation"), sources=r.sources, path=path, execution=_execution(d.get("execution")))


def load_file(path: str | os.PathLike) -> HardwareSpec:
    doc, file = read_document(path, "hardware spec")
    return parse_spec(doc, file, str(Path(path)))


def _bundled_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SPEC_DIR.glob("*.yaml"))}


def _bundled_document(path: Path):
    """A bundled spec's YAML through libyaml where PyYAML has it (the alias table parses every bundled spec at
    start-up), kept parsed in the cache (:mod:`nmsim.io.kept_parses`)."""
    from nmsim.io.kept_parses import parsed

    def parse(text: str):
        import yaml

        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return parsed(path.read_text(), "libyaml-safe", parse)


@lru_cache(maxsize=None)
def _load_bundled(stem: str) -> HardwareSpec:
    path = _bundled_files()[stem]
    return parse_spec(_bundled_document(path), path.name, str(path))


@lru_cache(maxsize=1)
def _alias_table() -> dict[str, str]:
    """Name and aliases of each bundled spec, read from the YAML alone (no spec is parsed or validated here,
    so resolving a name, or refusing a mistyped one, imports no execution model)."""
    table = {}
    for stem, path in _bundled_files().items():
        doc = _bundled_document(path)
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
