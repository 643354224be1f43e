"""System specs: how many devices, how they are wired — separate from the device spec (``nmsim/hardware``).

A system YAML (``nmsim/data/systems/*.yaml``, schema in that folder's README) names a device spec and adds
devices per node, a default node count, node power, the intra-node fabric (per-device bandwidth one way,
per-step latency) and the inter-node network (per-device bandwidth, latency, topology). Every number is
``{value: X, source: "..."}``. Errors are one line: ``<file>: <field>: <problem>``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from nmsim.errors import UserError, field_path

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
            raise UserError(f"must be a positive integer, got {nodes!r}", "--nodes")
        return replace(self, nodes=int(nodes))

    def device_spec(self):
        from nmsim.hardware import load
        return load(self.device)

    def source(self, path: str) -> str | None:
        return dict(self.sources).get(path)


class _Reader:
    def __init__(self, file: str):
        self.file, self.sources = file, {}

    def fail(self, message: str, *path) -> UserError:
        return UserError(message, field_path(self.file, *path))

    def mapping(self, node, path: tuple, keys: dict) -> dict:
        if not isinstance(node, dict):
            raise self.fail(f"expected a mapping, got {type(node).__name__}", *path)
        for key in node:
            if key not in keys:
                raise self.fail(f"unknown key {key!r} (allowed: {', '.join(sorted(keys))})", *path, key)
        for key, required in keys.items():
            if required and key not in node:
                raise self.fail(f"missing required field {key!r}", *path)
        return node

    def text(self, node, path: tuple) -> str:
        if not isinstance(node, str) or not node.strip():
            raise self.fail("expected a non-empty string", *path)
        return node.strip()

    def number(self, node, path: tuple, *, integer=False, at_most=None) -> float:
        """``{value: X, source: "..."}``: X > 0 (an integer when asked), the source a non-empty string."""
        if not isinstance(node, dict):
            raise self.fail(f"expected {{value: ..., source: ...}} (every number needs a source), got {node!r}",
                            *path)
        self.mapping(node, path, {"value": True, "source": True})
        src = self.text(node["source"], path + ("source",))
        value = node["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            raise self.fail(f"expected {'an integer' if integer else 'a number'}, got {value!r}", *path, "value")
        if not math.isfinite(value) or value <= 0:
            raise self.fail(f"must be > 0, got {value!r}", *path, "value")
        if at_most is not None and value > at_most:
            raise self.fail(f"must be <= {at_most}, got {value!r}", *path, "value")
        self.sources[".".join(map(str, path))] = src
        return value

    def fabric(self, node, key: str, network: bool) -> Fabric:
        node = self.mapping(node, (key,), NETWORK_KEYS if network else FABRIC_KEYS)
        topology = "single-node"
        if network:
            topology = self.text(node["topology"], (key, "topology"))
            if topology not in TOPOLOGIES:
                raise self.fail(f"unknown topology {topology!r} (known: {', '.join(TOPOLOGIES)})", key, "topology")
        eff = self.number(node["efficiency"], (key, "efficiency"), at_most=1.0) if "efficiency" in node else 1.0
        return Fabric(self.text(node["fabric"], (key, "fabric")),
                      float(self.number(node["bandwidth_gbps"], (key, "bandwidth_gbps"))),
                      float(self.number(node["latency_us"], (key, "latency_us"))), float(eff), topology)


def parse_system(doc, file: str, path: str | None = None) -> SystemSpec:
    r = _Reader(file)
    doc = r.mapping(doc, (), TOP_KEYS)
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise r.fail("expected a list of names", "aliases")
    device = r.text(doc["device"], ("device",))
    from nmsim.hardware import load
    try:
        load(device)
    except UserError as exc:
        raise r.fail(f"unknown device {device!r} ({exc.message})", "device") from None
    spec = SystemSpec(
        name=r.text(doc["name"], ("name",)), description=r.text(doc["description"], ("description",)),
        device=device, devices_per_node=int(r.number(doc["devices_per_node"], ("devices_per_node",), integer=True)),
        nodes=int(r.number(doc["nodes"], ("nodes",), integer=True)),
        node_power_watts=float(r.number(doc["node_power_watts"], ("node_power_watts",))),
        intra=r.fabric(doc["intra_node"], "intra_node", False), inter=r.fabric(doc["inter_node"], "inter_node", True),
        aliases=tuple(a.strip() for a in aliases), path=path)
    return replace(spec, sources=tuple(sorted(r.sources.items())))


def load_system_file(path: str | os.PathLike) -> SystemSpec:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UserError("no such file", str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read: {exc.__class__.__name__}", str(path)) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"YAML syntax error{at}: {problem}", p.name) from None
    if doc is None:
        raise UserError("empty file", p.name)
    return parse_system(doc, p.name, str(p))


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
