"""The system spec (``nmsim/data/systems/*.yaml``: devices per node and their wiring; fields in that folder's
README). The device name is checked against the bundled specs by the loader (``nmsim.cluster.system``)."""
from __future__ import annotations

from nmsim.io.spec_nodes import Choice, Field, Names, Number, Obj, Text

TOPOLOGIES = ("fat-tree", "rail-optimized", "torus-3d", "single-node")


def _fabric(network: bool) -> Obj:
    fields = {"fabric": Field(Text(strip=True), required=True),
              "bandwidth_gbps": Field(Number(description="per device, one way (GB/s)"), required=True),
              "latency_us": Field(Number(description="per collective step"), required=True),
              "efficiency": Field(Number(at_most=1.0, description="fraction of the bandwidth collectives reach"),
                                  default=1.0)}
    if network:
        fields = {"topology": Field(Choice(TOPOLOGIES, what="topology", text=True, strip=True), required=True),
                  **fields}
    return Obj(fields)


SYSTEM = Obj({
    "name": Field(Text(strip=True), required=True),
    "description": Field(Text(strip=True), required=True),
    "aliases": Field(Names(strip=True), default=[]),
    "notes": Field(Text()),
    "device": Field(Text(strip=True, description="a hardware spec name (nmsim hardware list)"), required=True),
    "devices_per_node": Field(Number(integer=True), required=True),
    "nodes": Field(Number(integer=True, description="default node count (--nodes overrides)"), required=True),
    "node_power_watts": Field(Number(), required=True),
    "intra_node": Field(_fabric(False), required=True),
    "inter_node": Field(_fabric(True), required=True),
}, top=True)
