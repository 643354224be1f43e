"""Reading and writing user files, with limits and one-line errors.

* :mod:`nmsim.io.read`: text (UTF-8 only, size-capped, folders/devices/unreadable paths refused), YAML (no
  duplicate keys, bounded alias expansion and nesting), JSON (same limits) and CSV (finite numbers).
* :mod:`nmsim.io.write`: atomic file writes and report-folder replacement that never delete or hide anything
  nmsim did not create; every output-path problem (folder, read-only, parent is a file, disk full) is one
  :class:`~nmsim.errors.UserError` line.
"""
from nmsim.io.read import load_json, load_yaml, parse_json, parse_yaml, read_csv, read_text, short_repr
from nmsim.io.write import (MARKER, check_output_file, check_output_folder, install_folder, temp_folder,
                            os_error, write_bytes, write_json, write_text)

__all__ = ["MARKER", "check_output_file", "check_output_folder", "install_folder", "load_json", "load_yaml",
           "temp_folder", "os_error", "parse_json", "parse_yaml", "read_csv", "read_text", "short_repr",
           "write_bytes", "write_json", "write_text"]
