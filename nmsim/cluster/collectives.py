"""Collective costs from an alpha-beta model of a two-level fabric (numpy, broadcast over layouts).

A group of ``p`` devices with ``k`` members per node spans ``q = p / k`` nodes. Times in seconds for
``nbytes`` (the full tensor: the all-reduced buffer, the gathered result, the scattered input):

* ring all-reduce inside a node: ``2 (k-1) a + 2 (k-1)/k n / B``;
* across nodes, hierarchically (as NCCL does with one NIC per device): reduce-scatter inside the node, an
  all-reduce of the ``n / k`` shard across the ``q`` nodes over each device's own NIC, all-gather inside the
  node. The inter-node part is a ring (``2 (q-1) a + 2 (q-1)/q (n/k) / B``) or a tree
  (``2 ceil(log2 q) a + 2 (n/k) / B``); ``algorithm="auto"`` takes the faster, as NCCL's tuner does;
* all-gather / reduce-scatter: half of the all-reduce's steps and bytes;
* p2p: ``a + n / B`` on the link between two stages (intra-node when both are in one node).

``a`` is the fabric's per-step latency, ``B`` its per-device one-way bandwidth times its efficiency
(``nmsim.cluster.system.Fabric``), reached only by large messages: an ``n``-byte collective runs at
``B n / (n + half)`` (``half``: the message size at half the plateau bus bandwidth, as nccl-tests curves show;
0 = every size at ``B``; set from the run's losses by :func:`with_message_sizes`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np


def with_message_sizes(system, half_intra: float, half_inter: float):
    """``system`` with each fabric's half-bandwidth message size set (bytes)."""
    return replace(system, intra=replace(system.intra, half_bytes=float(half_intra)),
                   inter=replace(system.inter, half_bytes=float(half_inter)))


def _bw(fabric, nbytes):
    """Achieved bandwidth (bytes/s) for messages of ``nbytes``."""
    if fabric.half_bytes <= 0:
        return fabric.bytes_per_second
    n = np.maximum(np.asarray(nbytes, float), 1.0)
    return fabric.bytes_per_second * n / (n + fabric.half_bytes)


def members_per_node(size, stride, devices_per_node: int):
    """Members of a group of ``size`` devices placed ``stride`` apart that share one node (>= 1)."""
    size, stride = np.asarray(size, float), np.asarray(stride, float)
    per = np.where(stride >= devices_per_node, 1.0, np.floor(devices_per_node / np.maximum(stride, 1.0)))
    return np.maximum(1.0, np.minimum(size, per))


def _intra(nbytes, k, fabric, steps_factor: float):
    bw = _bw(fabric, nbytes)
    return np.where(k > 1, steps_factor * ((k - 1) * fabric.latency_us * 1e-6 + (k - 1) / k * nbytes / bw), 0.0)


def _inter(nbytes, q, fabric, steps_factor: float, algorithm: str):
    bw = _bw(fabric, nbytes)
    a = fabric.latency_us * 1e-6
    ring = steps_factor * ((q - 1) * a + (q - 1) / np.maximum(q, 1) * nbytes / bw)
    tree = steps_factor * (np.ceil(np.log2(np.maximum(q, 1))) * a + nbytes / bw)
    if algorithm == "ring":
        t = ring
    elif algorithm == "tree":
        t = tree
    else:
        t = np.minimum(ring, tree)
    return np.where(q > 1, t, 0.0)


def _collective(nbytes, size, stride, system, passes: float, algorithm: str):
    """Hierarchical collective: within each node over NVLink, then across nodes with 1/k of the bytes each;
    ``passes`` = 2 for all-reduce (reduce-scatter + all-gather), 1 for all-gather or reduce-scatter."""
    nbytes, size = np.asarray(nbytes, float), np.asarray(size, float)
    k = members_per_node(size, stride, system.devices_per_node)
    t = _intra(nbytes, k, system.intra, passes) + _inter(nbytes / k, size / k, system.inter, passes, algorithm)
    return np.where(size > 1, t, 0.0)


def all_reduce(nbytes, size, stride, system, algorithm: str = "auto"):
    """Seconds to all-reduce ``nbytes`` over groups of ``size`` devices ``stride`` apart (arrays broadcast)."""
    return _collective(nbytes, size, stride, system, 2.0, algorithm)


def all_gather(nbytes, size, stride, system, algorithm: str = "auto"):
    """Seconds to all-gather a tensor of ``nbytes`` (gathered size) over the groups; reduce-scatter costs the same."""
    return _collective(nbytes, size, stride, system, 1.0, algorithm)


reduce_scatter = all_gather


def p2p(nbytes, stride, system):
    """Seconds to send ``nbytes`` to a device ``stride`` ranks away (same node when stride < devices per node)."""
    nbytes, stride = np.asarray(nbytes, float), np.asarray(stride, float)
    intra = stride < system.devices_per_node
    a = np.where(intra, system.intra.latency_us, system.inter.latency_us) * 1e-6
    bw = np.where(intra, _bw(system.intra, nbytes), _bw(system.inter, nbytes))
    return a + nbytes / bw
