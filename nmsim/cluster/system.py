"""System specs: how many devices, how they are wired — separate from the device spec (``nmsim/hardware``).

A system YAML (``nmsim/data/systems/*.yaml``, schema in that folder's README) names a device spec and adds
devices per node, a default node count, node power, the intra-node fabric (per-device bandwidth one way,
per-step latency) and the inter-node network (per-device bandwidth, latency, topology). Files are read and
checked by the hardware specs' reader (:mod:`nmsim.hardware.loader`): every number is ``{value: X, source:
"..."}`` or sits in a section with its own ``source:``. Errors are one line: ``<file>: <field>: <problem>``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from nmsim.errors import UserError
from nmsim.cluster.limits import too_many_devices
from nmsim.hardware.loader import SpecReader, read_document
from nmsim.io.read import short_repr

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "data" / "systems"
TOPOLOGIES = ("fat-tree", "rail-optimized", "torus-3d", "single-node")
TOP_KEYS = {"name": True, "description": True, "device": True, "devices_per_node": True, "nodes": True,
            "node_power_watts": True, "intra_node": True, "inter_node": True, "aliases": False, "notes": False}
FABRIC_KEYS = {"fabric": True, "bandwidth_gbps": True, "latency_us": True, "efficiency": False}
NETWORK_KEYS = {**FABRIC_KEYS, "topology": True}


@dataclass(frozen=True)
class Fabric:
    """One level of the interconnect, per device: ``bandwidth_gbps`` GB/s one way, ``latency_us`` per step,
    ``efficiency`` the fraction of that bandwidth collectives reach (NCCL bus bandwidth / link rate)."""
    fabric: str
    bandwidth_gbps: float
    latency_us: float
    efficiency: float = 1.0
    topology: str = "single-node"
    half_bytes: float = 0.0     # message size reaching half of the bandwidth (set from the run's losses)

    @property
    def bytes_per_second(self) -> float:
        return self.bandwidth_gbps * 1e9 * self.efficiency


@dataclass(frozen=True)
class SystemSpec:
    name: str
    description: str
    device: str                 # hardware spec name (``nmsim hardware list``)
    devices_per_node: int
    nodes: int
    node_power_watts: float
    intra: Fabric
    inter: Fabric
    aliases: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    path: str | None = None

    @property
    def devices(self) -> int:
        return self.devices_per_node * self.nodes

    def with_nodes(self, nodes: int) -> "SystemSpec":
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise UserError(f"must be a positive integer, got {short_repr(nodes)}", "--nodes")
        if too_many_devices(nodes, self.devices_per_node):
            raise UserError(too_many_devices(nodes, self.devices_per_node), "--nodes")
        return replace(self, nodes=int(nodes))

    def device_spec(self):
        from nmsim.hardware import load
        return load(self.device)

    def source(self, path: str) -> str | None:
        return dict(self.sources).get(path)


def _fabric(r: SpecReader, node, key: str, network: bool) -> Fabric:
    node, src = r.mapping(node, (key,), NETWORK_KEYS if network else FABRIC_KEYS, None)
    topology = "single-node"
    if network:
        topology = r.text(node["topology"], (key, "topology")).strip()
        if topology not in TOPOLOGIES:
            raise r.fail(f"unknown topology {short_repr(topology)} (known: {', '.join(TOPOLOGIES)})",
                         key, "topology")
    eff = r.number(node["efficiency"], (key, "efficiency"), src, at_most=1.0) if "efficiency" in node else 1.0
    return Fabric(r.text(node["fabric"], (key, "fabric")).strip(),
                  float(r.number(node["bandwidth_gbps"], (key, "bandwidth_gbps"), src)),
                  float(r.number(node["latency_us"], (key, "latency_us"), src)), float(eff), topology)


def parse_system(doc, file: str, path: str | None = None) -> SystemSpec:
    """Check a parsed system document field by field (the hardware specs' reader and number rules) and build it."""
    r = SpecReader(file)
    doc, _ = r.mapping(doc, (), TOP_KEYS, None)
    if "source" in doc:
        raise r.fail("unknown key 'source' at the top level (put source: on a section or a value)", "source")
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise r.fail("expected a list of names", "aliases")
    name, description = r.text(doc["name"], ("name",)).strip(), r.text(doc["description"], ("description",))
    if "notes" in doc:
        r.text(doc["notes"], ("notes",))
    device = r.text(doc["device"], ("device",)).strip()
    from nmsim.hardware import load
    try:
        load(device)
    except UserError as exc:
        raise r.fail(f"unknown device {short_repr(device)} ({exc.message})", "device") from None
    counts = {}
    for key in ("devices_per_node", "nodes"):
        counts[key] = int(r.number(doc[key], (key,), None, integer=True))
        if too_many_devices(counts[key], 1):
            raise r.fail(too_many_devices(counts[key], 1), key, "value")
    per_node, nodes = counts["devices_per_node"], counts["nodes"]
    if too_many_devices(nodes, per_node):
        raise r.fail(too_many_devices(nodes, per_node), "nodes", "value")
    spec = SystemSpec(
        name=name, description=description.strip(), device=device, devices_per_node=per_node, nodes=nodes,
        node_power_watts=float(r.number(doc["node_power_watts"], ("node_power_watts",), None)),
        intra=_fabric(r, doc["intra_node"], "intra_node", False),
        inter=_fabric(r, doc["inter_node"], "inter_node", True),
        aliases=tuple(a.strip() for a in aliases), path=path)
    return replace(spec, sources=tuple(sorted(r.sources.items())))


def load_system_file(path: str | os.PathLike) -> SystemSpec:
    """A system YAML file, read as hardware specs are (:func:`nmsim.hardware.loader.read_document`: size,
    encoding, duplicate keys, alias bombs, depth)."""
    doc, file = read_document(path, "system file")
    return parse_system(doc, file, str(Path(path)))


def _bundled() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SYSTEM_DIR.glob("*.yaml"))}


@lru_cache(maxsize=None)
def _load_bundled(stem: str) -> SystemSpec:
    return load_system_file(_bundled()[stem])


def list_systems() -> list[str]:
    return list(_bundled())


def load_system(name_or_path, nodes: int | None = None) -> SystemSpec:
    """A bundled system by name or alias (``dgx-h100``) or a YAML path; ``nodes`` overrides the node count."""
    if isinstance(name_or_path, SystemSpec):
        spec = name_or_path
    else:
        text = str(name_or_path)
        files = _bundled()
        aliases = {a: stem for stem in files for a in (_load_bundled(stem).name, *_load_bundled(stem).aliases)}
        if text in files:
            spec = _load_bundled(text)
        elif text in aliases and not text.endswith((".yaml", ".yml")):
            spec = _load_bundled(aliases[text])
        elif text.endswith((".yaml", ".yml")) or os.path.exists(text):
            spec = load_system_file(text)
        else:
            raise UserError(f"unknown system: not a bundled one ({', '.join(files)}) nor an existing file", text)
    return spec.with_nodes(nodes) if nodes is not None else spec
