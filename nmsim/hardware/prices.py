"""Hourly device prices: the bundled on-demand list (``nmsim/data/prices/hourly.yaml``) and ``--price-per-hour
DEVICE=USD`` overrides. Light (yaml and the spec reader only), so a bad override fails before pandas or torch is
imported."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from nmsim.errors import UserError

PRICE_FILE = Path(__file__).resolve().parent.parent / "data" / "prices" / "hourly.yaml"
FLAG = "--price-per-hour"


@lru_cache(maxsize=1)
def bundled_prices() -> dict:
    """{spec name: {usd_per_hour, offer, source, date}} from the bundled price list (checked by its schema,
    :data:`nmsim.schema.prices.PRICES`; every name a bundled spec)."""
    return read_prices(PRICE_FILE)


def read_prices(path) -> dict:
    """A price list checked by :data:`nmsim.schema.prices.PRICES`, each name a bundled spec's file stem."""
    from nmsim.hardware.loader import list_specs
    from nmsim.schema.prices import PRICES
    from nmsim.io.spec_reader import SpecReader, read_document

    doc, file = read_document(path, "price list")
    r = SpecReader(file)
    prices = PRICES.check(r, doc, (), None)
    for name in prices:
        if name not in list_specs():
            raise r.fail(f"unknown hardware spec {name!r} (bundled: {', '.join(list_specs())})", name)
    return {name: {**entry, "source": r.sources[f"{name}.usd_per_hour"]} for name, entry in prices.items()}


def parse_overrides(text, priced=None) -> dict:
    """``"a100=2.5,l4=0.7"`` (or a list of such texts, the flag given twice) -> {spec name: USD per hour}; a
    device is any name or alias ``--hardware`` takes; one device priced twice is refused. ``priced``: the spec
    names the command prices; an override for another device (``h100=2`` while pricing h100-pcie) is refused,
    never ignored."""
    if not text:
        return {}
    items = [t for part in ([text] if isinstance(text, str) else list(text)) for t in str(part).split(",")]
    out: dict = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UserError(f"expected DEVICE=USD (e.g. a100=2.5), got {item.strip()!r}", FLAG)
        try:
            usd = float(value)
        except ValueError:
            raise UserError(f"{name}: not a number of dollars per hour: {value!r}", FLAG) from None
        if not math.isfinite(usd) or usd < 0:
            raise UserError(f"{name}: dollars per hour must be a finite number >= 0, got {value}", FLAG)
        from nmsim.hardware import load
        try:
            spec = load(name)
        except UserError as exc:
            raise UserError(str(exc), FLAG) from None
        if spec.name in out and out[spec.name] != usd:
            raise UserError(f"{name}: {spec.name} priced twice (${out[spec.name]:g}/h and ${usd:g}/h)", FLAG)
        if priced is not None and spec.name not in priced:
            shown = ", ".join(dict.fromkeys(priced)) or "none: give --hardware"
            raise UserError(f"{name}: {spec.name} is not priced here (priced: {shown})", FLAG)
        out[spec.name] = usd
    return out


def hourly_price(hw_name: str, overrides: dict | None = None) -> float:
    """USD per device-hour for spec ``hw_name``: the override, else the bundled list price, else NaN."""
    if overrides and hw_name in overrides:
        return float(overrides[hw_name])
    entry = bundled_prices().get(hw_name)
    return float(entry["usd_per_hour"]) if entry else math.nan
