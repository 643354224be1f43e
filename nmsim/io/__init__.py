"""Reading and writing user files, with limits and one-line errors.

* :mod:`nmsim.io.read`: text (UTF-8 only, size-capped, folders/devices/unreadable paths refused), YAML (no
  duplicate keys, bounded alias expansion and nesting), JSON (same limits) and CSV (finite numbers).
* :mod:`nmsim.io.write`: atomic file writes and report-folder replacement that never delete or hide anything
  nmsim did not create; every output-path problem (folder, read-only, parent is a file, disk full) is one
  :class:`~nmsim.errors.UserError` line.
* :mod:`nmsim.io.spec_reader` and :mod:`nmsim.io.spec_nodes`: the schema checks every input file's fields go
  through (declarations in :mod:`nmsim.schema` and :mod:`nmsim.graph.config`).
"""
from __future__ import annotations

import importlib

_FROM = {"read": ("load_json", "load_yaml", "parse_json", "parse_yaml", "read_csv", "read_text", "short_repr"),
         "write": ("MARKER", "check_output_file", "check_output_folder", "install_folder", "temp_folder", "os_error",
                   "write_bytes", "write_json", "write_text")}
_MODULE = {name: module for module, names in _FROM.items() for name in names}
__all__ = sorted(_MODULE)


def __getattr__(name: str):
    """The names of :mod:`nmsim.io.read` and :mod:`nmsim.io.write`, imported on first use: a command that writes
    nothing (or only its signals guard, :mod:`nmsim.io.signals`) does not import YAML."""
    if name not in _MODULE:
        raise AttributeError(f"module 'nmsim.io' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nmsim.io.{_MODULE[name]}"), name)
