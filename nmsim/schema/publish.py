"""The published JSON Schemas (draft 2020-12), one per spec file kind, generated from the declarative schemas:
``python -m nmsim.schema`` rewrites them, ``python -m nmsim.schema --check`` exits 1 when one is stale."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
SOURCE_RULE = ("Every number is {value, source} or covered by a source: key of an enclosing mapping (the loader "
               "checks this, and the rules between fields).")

#: kind -> (module:attribute of its schema, published file under nmsim/data, title, files it describes)
KINDS = {
    "hardware": ("nmsim.schema.hardware:HARDWARE", "hardware_specs/schema.json", "nmsim accelerator spec",
                 "hardware_specs/*.yaml"),
    "system": ("nmsim.schema.system:SYSTEM", "systems/schema.json", "nmsim system spec", "systems/*.yaml"),
    "losses": ("nmsim.schema.losses:LOSSES", "published_runs/losses.schema.json", "nmsim losses file",
               "published_runs/losses.yaml"),
    "prices": ("nmsim.schema.prices:PRICES", "prices/schema.json", "nmsim hourly price list", "prices/*.yaml"),
    "workload": ("nmsim.schema.workload:json_schema", "workloads/schema.json", "nmsim workload",
                 "workloads/*.yaml"),
    "measurements": ("nmsim.schema.measurements:json_schema", "measurements/gpu.schema.json",
                     "nmsim GPU measurements (nmsim validate)", "measurements/gpu.yaml"),
    "memory": ("nmsim.schema.memory:json_schema", "measurements/memory.schema.json",
               "nmsim memory measurements (nmsim validate --memory)", "measurements/memory.yaml"),
    "bands": ("nmsim.schema.bands:BANDS", "bands/schema.json", "nmsim error bands (generated)", "bands/*.yaml"),
    "runs": ("nmsim.schema.runs:json_schema", "published_runs/training_throughput.schema.json",
             "nmsim published training runs", "published_runs/training_throughput.yaml"),
}


def schema_node(kind: str):
    """The declaration of ``kind``: a schema node, or (workloads) a function writing its JSON Schema."""
    module, _, attr = KINDS[kind][0].partition(":")
    return getattr(importlib.import_module(module), attr)


def _body(kind: str) -> dict:
    node = schema_node(kind)
    return node.json() if hasattr(node, "json") else node()


def _number_name(plain: dict) -> str:
    name = "count" if plain["type"] == "integer" else "number"
    name += "" if "exclusiveMinimum" in plain else "_or_zero"
    return name + ("" if "maximum" not in plain else f"_at_most_{plain['maximum']:g}")


def _hoist(node, defs: dict):
    """``node`` with every sourced number (``X`` or ``{value: X, source}``) replaced by a reference to one
    definition per range, collected in ``defs``."""
    if isinstance(node, list):
        return [_hoist(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    options = node.get("oneOf")
    if isinstance(options, list) and len(options) == 2 and options[1].get("required") == ["value", "source"]:
        name = _number_name(options[0])
        defs[name] = {"oneOf": options}
        return {"$ref": f"#/$defs/{name}", **{k: v for k, v in node.items() if k != "oneOf"}}
    return {k: _hoist(v, defs) for k, v in node.items()}


def json_schema(kind: str) -> dict:
    """The JSON Schema of ``kind`` as published."""
    _, path, title, files = KINDS[kind]
    defs: dict = {}
    body = _hoist(_body(kind), defs)
    return {"$schema": DRAFT, "$id": f"https://nmsim.invalid/{path}", "title": title,
            "description": f"nmsim/data/{files}. {SOURCE_RULE}", "$defs": dict(sorted(defs.items())), **body}


def text(kind: str) -> str:
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def published_path(kind: str) -> Path:
    return DATA / KINDS[kind][1]


def stale() -> list[str]:
    """The kinds whose published file differs from the generated schema."""
    return [k for k in KINDS if not published_path(k).is_file() or published_path(k).read_text() != text(k)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmsim.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which published schemas are stale")
    args = parser.parse_args(argv)
    kinds = stale()
    if args.check:
        for kind in kinds:
            print(f"stale: nmsim/data/{KINDS[kind][1]} (regenerate: python -m nmsim.schema)")
        return 1 if kinds else 0
    for kind in kinds:
        published_path(kind).write_text(text(kind))
        print(f"wrote nmsim/data/{KINDS[kind][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
