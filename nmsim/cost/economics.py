"""What a buyer asks of a priced row: throughput, dollars per million tokens, energy per token, and dollars for
a whole training run.

* Items: a text model's rows count tokens (decode: one new token per sequence; prefill, inference and training:
  every token of the batch), an image model's rows count images.
* ``{item}s_per_second`` = items per step / step seconds.
* ``usd_per_million_{item}s`` = hourly price / 3600 x step seconds / items x 10^6, from one device's hourly price
  (``nmsim/data/prices/hourly.yaml``: list on-demand prices with their source and date; ``--price-per-hour
  DEVICE=USD`` overrides). A device without a price gives NaN, shown as "not given", never 0.
* ``joules_per_{item}`` = step joules / items (NaN where the spec gives no energy figures).
* A training run: ``usd`` = device-hours x the hourly price.
"""
from __future__ import annotations

import math

from nmsim.columns import item_columns as columns, item_name  # noqa: F401 (re-exported)
from nmsim.errors import UserError
from nmsim.hardware.prices import (  # noqa: F401  (re-exported)
    FLAG, PRICE_FILE, bundled_prices, hourly_price, parse_overrides)

RANK_KEYS = {"time": "seconds", "cost": "usd_per_million", "energy": "joules_per"}


def price_note(hw_names, overrides: dict | None = None) -> str:
    """``# $/h: a100-sxm4-80gb 5.12 (AWS ..., 2025); l4 not given`` for a table's head."""
    parts = []
    for name in dict.fromkeys(hw_names):
        if overrides and name in overrides:
            parts.append(f"{name} ${overrides[name]:g}/h ({FLAG})")
            continue
        entry = bundled_prices().get(name)
        parts.append(f"{name} ${entry['usd_per_hour']:g}/h ({entry['offer']}, {entry['date']})" if entry
                     else f"{name} not given ({FLAG} {name}=USD)")
    return "# device prices: " + "; ".join(parts) + "\n" if parts else ""


def summary_line(hw_name: str, seconds: float, joules: float, items: float, item: str = "token",
                 overrides: dict | None = None) -> str:
    """``# throughput: 105 tokens/s; $0.0136 per million tokens at $5.12/h (...); 36.4 mJ per token``."""
    from nmsim.units import dollars, fixed
    from nmsim.units import joules as energy

    usd = hourly_price(hw_name, overrides)
    rate = items / seconds if seconds > 0 else math.nan
    cost = usd / 3600 * seconds / items * 1e6
    entry = bundled_prices().get(hw_name)
    where = (f"{FLAG}" if overrides and hw_name in overrides else
             f"{entry['offer']}, {entry['date']}" if entry else f"no price: {FLAG} {hw_name}=USD")
    at = f" at {dollars(usd)}/h" if math.isfinite(usd) else ""
    per = joules / items
    return (f"# throughput: {fixed(rate, 4)} {item}s/s; {dollars(cost)} per million {item}s{at} ({where}); "
            + (f"{energy(per)} per {item}" if math.isfinite(per) else f"energy per {item} not given") + "\n")


def items_per_step(cfg, mode: str, batch, seq=None) -> float:
    """Tokens (images) one priced step handles: decode one new token per sequence, otherwise every token."""
    batch = int(batch or (cfg.batch if cfg is not None else 1))
    if cfg is not None and cfg.is_image:
        return float(batch)
    if mode == "decode":
        return float(batch)
    return float(batch * int(seq or (cfg.tokens if cfg is not None else 1)))


def add_columns(df, seconds, joules, items, usd_per_hour, item: str = "token"):
    """``df`` with the rate, $/M and J per item columns (arrays or scalars aligned with its rows)."""
    import numpy as np

    seconds = np.asarray(seconds, dtype=float)
    items = np.asarray(items, dtype=float)
    rate, usd, jpi = columns(item)
    with np.errstate(divide="ignore", invalid="ignore"):
        df[rate] = np.where(seconds > 0, items / seconds, np.nan)
        df[usd] = np.asarray(usd_per_hour, dtype=float) / 3600.0 * seconds / items * 1e6
        df[jpi] = np.asarray(joules, dtype=float) / items
    return df


def add_shape_columns(df, cfg, mode: str, overrides: dict | None = None):
    """A shape sweep's rows (``batch``, ``seq`` or ``context``, ``seconds``, ``joules``, ``hardware``) with the
    per-item columns: each row's own batch and sequence."""
    import numpy as np

    batch = df["batch"].to_numpy(float)
    if cfg.is_image or mode == "decode":
        items = batch
    else:
        items = batch * df["seq"].to_numpy(float)
    usd = [hourly_price(str(h), overrides) for h in df["hardware"]]
    return add_columns(df, df["seconds"], df["joules"], np.asarray(items), usd, item_name(cfg))


def rank(df, by: str | None, item: str = "token"):
    """Rows ordered by ``time`` (seconds), ``cost`` ($ per million items) or ``energy`` (joules per item),
    smallest first, rows without the figure last; None keeps the order."""
    if not by:
        return df
    if by not in RANK_KEYS:
        raise UserError(f"unknown ranking {by!r} (known: {', '.join(RANK_KEYS)})", "--rank-by")
    col = {"time": "seconds", "cost": columns(item)[1], "energy": columns(item)[2]}[by]
    return df.sort_values(col, kind="stable", na_position="last").reset_index(drop=True)
