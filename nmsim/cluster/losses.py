"""What real training runs lose against nmsim's device pricing: one set of terms, each sourced or fitted, in
``nmsim/data/published_runs/losses.yaml``; ``--losses`` picks a preset or a file of the same keys.

* ``calibrated`` (the default): the file as shipped, compute efficiencies fitted on the fit runs;
* ``sourced``: every term at its sourced or assumed value, nothing fitted (compute efficiency 1);
* ``none``: the ideal model (every efficiency 1, full overlap, no data loading, checkpoints or failures);
* a YAML file: the keys it gives replace the calibrated ones.

Where each term enters (:func:`nmsim.cluster.layout.price_layouts`, :func:`nmsim.cluster.plan.run_budget`):
kernel efficiencies divide the attention core's, the vector ops' and the optimizer's device seconds; the compute
efficiency (per device, fitted; ``default`` for a device no fit run used) divides all device compute; collectives reach
``bandwidth x n / (n + half)`` for an ``n``-byte message; DP / ZeRO-3 overlap hides that fraction of what fits
under compute; data loading adds a fraction of the step; checkpoints add their write time over the interval;
goodput divides whole-run wall-clock and device-hours.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from nmsim.errors import UserError

LOSSES_FILE = Path(__file__).resolve().parent.parent / "data" / "published_runs" / "losses.yaml"
PRESETS = ("calibrated", "sourced", "none")


@dataclass(frozen=True)
class Losses:
    compute_efficiency: dict = field(default_factory=lambda: {"default": 1.0})
    attention_efficiency: float = 1.0
    vector_efficiency: float = 1.0
    optimizer_efficiency: float = 1.0
    collective_half_bytes_intra: float = 0.0
    collective_half_bytes_inter: float = 0.0
    dp_overlap: float = 1.0
    zero3_overlap: float = 1.0
    data_loading_fraction: float = 0.0
    checkpoint_interval_steps: float = 0.0   # 0: no checkpoints
    checkpoint_write_gbps_per_node: float = 1.0
    checkpoint_bytes_per_param: float = 14.0
    goodput: float = 1.0
    name: str = "none"
    sources: tuple = ()

    def efficiency(self, device: str) -> float:
        """The fitted compute efficiency of ``device`` (a hardware spec name), else the ``default`` one."""
        return float(self.compute_efficiency.get(device, self.compute_efficiency["default"]))

    def terms(self) -> dict:
        """Every term by name (compute efficiencies as ``compute_efficiency.<class>``), for tables and reports."""
        out = {f"compute_efficiency.{k}": v for k, v in self.compute_efficiency.items()}
        out.update({f.name: getattr(self, f.name) for f in fields(self)
                    if f.name not in ("compute_efficiency", "name", "sources")})
        return out


    def summary(self, compute_efficiency: float) -> str:
        """One line for plan texts (``compute_efficiency``: the one applied)."""
        return (f"{self.name}: compute efficiency {compute_efficiency:.3g}; kernels attention {self.attention_efficiency:g}, vector "
                f"{self.vector_efficiency:g}, optimizer {self.optimizer_efficiency:g}; overlap DP {self.dp_overlap:g}, "
                f"ZeRO-3 {self.zero3_overlap:g}; goodput {self.goodput:g}")

    def frame(self):
        """term, value, source: one row per term (sources from the file; the ideal set says so)."""
        import pandas as pd
        src = dict(self.sources)
        return pd.DataFrame([{"term": k, "value": v, "source": src.get(k, "nmsim default (ideal)")}
                             for k, v in self.terms().items()])


NONE = Losses()


def _read(path, base: Losses, name: str) -> Losses:
    """A losses file checked by its schema (:data:`nmsim.schema.losses.LOSSES`), its devices by name."""
    from nmsim.schema.losses import LOSSES
    from nmsim.io.spec_reader import SpecReader, read_document
    doc, file = read_document(path, "losses file")
    r = SpecReader(file)
    values = LOSSES.check(r, doc, (), None)
    if "compute_efficiency" in values:
        values["compute_efficiency"] = {**base.compute_efficiency, **{
            _device_key(r, k): v for k, v in values["compute_efficiency"].items()}}
    values.update({k: float(v) for k, v in values.items() if k != "compute_efficiency"})
    if values.get("data_loading_fraction", 0.0) >= 1:
        raise r.fail(f"must be below 1, got {values['data_loading_fraction']:g}", "data_loading_fraction", "value")
    return replace(base, **values, name=name, sources=tuple(sorted(r.sources.items())))


def _device_key(r, key: str) -> str:
    """``default`` or the hardware spec name of a device name or alias (``h100`` -> ``h100-sxm5``)."""
    if key == "default":
        return key
    from nmsim.hardware import load
    try:
        return load(key).name
    except UserError:
        raise r.fail(f"unknown device {key!r} (a hardware spec name or alias, or default)", "compute_efficiency",
                     key) from None


def load_losses(which=None) -> Losses:
    """A preset (``calibrated``, ``sourced``, ``none``), a YAML path, or a :class:`Losses` (returned as is)."""
    if isinstance(which, Losses):
        return which
    which = "calibrated" if which is None else str(which)
    if which == "none":
        return NONE
    if which in ("calibrated", "sourced"):
        shipped = _read(LOSSES_FILE, NONE, which)
        return shipped if which == "calibrated" else replace(shipped, compute_efficiency={"default": 1.0})
    if not which.endswith((".yaml", ".yml")) and not Path(which).exists():
        raise UserError(f"unknown losses {which!r}: a preset ({', '.join(PRESETS)}) or a YAML file", "--losses")
    return _read(which, _read(LOSSES_FILE, NONE, "calibrated"), which)


def stream_share(hw) -> float:
    """The share of DRAM bandwidth the device pricing gives element-wise kernels (the spec's measured
    ``vector_bandwidth_efficiency``; 1 where it names none): ``vector_efficiency`` and ``optimizer_efficiency`` are
    shares of the datasheet bandwidth, so a run loses only what they leave below it."""
    return float((getattr(hw, "execution", None) or {}).get("vector_bandwidth_efficiency", 1.0))
