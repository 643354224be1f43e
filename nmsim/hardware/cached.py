"""Specs by name or path, each loaded once per name and per file version."""
from __future__ import annotations

_HW_BY_NAME: dict = {}


def hardware_spec(hw):
    """A spec from a name or path (loaded once per name, and per file version: a path is relative to the
    current folder and the file may be edited between calls in one process), or ``hw`` itself."""
    if isinstance(hw, str):
        import os
        key = hw
        if os.path.isfile(hw):
            st = os.stat(hw)
            key = (os.path.realpath(hw), st.st_mtime_ns, st.st_size)
        spec = _HW_BY_NAME.get(key)
        if spec is None:
            from nmsim.hardware.loader import load
            spec = _HW_BY_NAME[key] = load(hw)
        return spec
    return hw
