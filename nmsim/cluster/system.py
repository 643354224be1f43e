"""System specs: how many devices, how they are wired — separate from the device spec (``nmsim/hardware``).

A system YAML (``nmsim/data/systems/*.yaml``, schema in that folder's README) names a device spec and adds
devices per node, a default node count, node power, the intra-node fabric (per-device bandwidth one way,
per-step latency) and the inter-node network (per-device bandwidth, latency, topology). Files are checked by
their declarative schema (:data:`nmsim.schema.system.SYSTEM`, published as ``nmsim/data/systems/schema.json``)
with the hardware specs' rules: every number is ``{value: X, source: "..."}`` or sits in a section with its own
``source:``. Errors are one line: ``<file>: <field>: <problem>``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from nmsim.errors import UserError
from nmsim.cluster.limits import too_many_devices
from nmsim.io.read import short_repr
from nmsim.io.spec_reader import SpecReader, read_document
from nmsim.schema.system import SYSTEM, TOPOLOGIES

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "data" / "systems"
__all__ = ["SYSTEM_DIR", "TOPOLOGIES", "Fabric", "SystemSpec", "list_systems", "load_system", "load_system_file",
           "parse_system"]


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


def _fabric(node: dict) -> Fabric:
    return Fabric(node["fabric"], float(node["bandwidth_gbps"]), float(node["latency_us"]), float(node["efficiency"]),
                  node.get("topology", "single-node"))


def parse_system(doc, file: str, path: str | None = None) -> SystemSpec:
    """Check a parsed system document against its schema, then what it names (a bundled or readable device
    spec) and its size, and build it."""
    r = SpecReader(file)
    d = SYSTEM.check(r, doc, (), None)
    from nmsim.hardware import load
    try:
        load(d["device"])
    except UserError as exc:
        raise r.fail(f"unknown device {short_repr(d['device'])} ({exc.message})", "device") from None
    for key in ("devices_per_node", "nodes"):
        if too_many_devices(d[key], 1):
            raise r.fail(too_many_devices(d[key], 1), key, "value")
    if too_many_devices(d["nodes"], d["devices_per_node"]):
        raise r.fail(too_many_devices(d["nodes"], d["devices_per_node"]), "nodes", "value")
    return SystemSpec(
        name=d["name"], description=d["description"], device=d["device"], devices_per_node=d["devices_per_node"],
        nodes=d["nodes"], node_power_watts=float(d["node_power_watts"]), intra=_fabric(d["intra_node"]),
        inter=_fabric(d["inter_node"]), aliases=tuple(d["aliases"]), sources=tuple(sorted(r.sources.items())),
        path=path)


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


def _aliases(files: dict[str, Path]) -> dict[str, str]:
    return {a: stem for stem in files for a in (_load_bundled(stem).name, *_load_bundled(stem).aliases)}


def load_system(name_or_path, nodes: int | None = None) -> SystemSpec:
    """A bundled system by name or alias (``dgx-h100``) or a YAML path; ``nodes`` overrides the node count."""
    if isinstance(name_or_path, SystemSpec):
        spec = name_or_path
    else:
        text = str(name_or_path)
        files = _bundled()
        if text in files:   # a file stem: only that file is read
            spec = _load_bundled(text)
        elif text in (aliases := _aliases(files)) and not text.endswith((".yaml", ".yml")):
            spec = _load_bundled(aliases[text])
        elif text.endswith((".yaml", ".yml")) or os.path.exists(text):
            spec = load_system_file(text)
        else:
            raise UserError(f"unknown system: not a bundled one ({', '.join(files)}) nor an existing file", text)
    return spec.with_nodes(nodes) if nodes is not None else spec
