"""Accelerator specs: YAML loading + validation into typed, frozen specs (pricing lives in ``nmsim.cost``)."""
from nmsim.hardware.loader import SPEC_DIR, list_specs, load, load_file, parse_hardware_list, parse_spec
from nmsim.hardware.spec import HardwareSpec, MemoryLevel, SparseSupport, Tile

__all__ = ["HardwareSpec", "MemoryLevel", "SparseSupport", "Tile", "SPEC_DIR", "list_specs", "load", "load_file",
           "parse_hardware_list", "parse_spec"]
