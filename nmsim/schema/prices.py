"""The hourly price list (``nmsim/data/prices/hourly.yaml``): bundled hardware spec name -> one device's share of
an on-demand cloud instance. Names are checked against the bundled specs by the loader (``nmsim.hardware.prices``)."""
from __future__ import annotations

from nmsim.io.spec_nodes import DictOf, Field, Number, Obj, Text

PRICES = DictOf(Obj({
    "usd_per_hour": Field(Number(description="US dollars per device-hour"), required=True),
    "offer": Field(Text(description="the instance and its terms"), required=True),
    "date": Field(Text(description="when the figure held (quoted: \"2025-06\")"), required=True),
}, needs_source="a price needs a source: (where the figure comes from)"),
    sourced=False, description="hardware spec name -> its price")
