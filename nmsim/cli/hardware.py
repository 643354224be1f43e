"""``nmsim hardware list|show|validate``: thin wrappers over :mod:`nmsim.hardware`."""
from __future__ import annotations

from nmsim.hardware import HardwareSpec, load, load_file


def _fmt(x: float) -> str:
    return f"{x:g}"


def cmd_list(args) -> int:
    from nmsim.api.specs import spec_table
    from nmsim.cli.output import columns_hook, emit
    emit(spec_table(columns_hook(args)), args.format, args.out, index=False, columns=args.columns)
    return 0


def describe(spec: HardwareSpec) -> str:
    """A readable multi-line summary of a spec, wrapped at 100 columns."""
    return "\n".join(_wrap(line) for line in _describe(spec).splitlines())


def _wrap(line: str, width: int = 100) -> str:
    """A long line wrapped under its own indent (+4; list items ``- `` hang under their text)."""
    if len(line) <= width:
        return line
    import textwrap

    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    hang = indent + ("  " if body.startswith("- ") else "    ")
    return textwrap.fill(body, width, initial_indent=indent, subsequent_indent=hang, break_on_hyphens=False)


def _describe(spec: HardwareSpec) -> str:
    lines = [f"{spec.name} ({spec.kind}): {spec.description}"]
    if spec.aliases:
        lines.append(f"  aliases: {', '.join(spec.aliases)}")
    lines.append("  matrix peaks (TFLOPS):")
    for dtype, dense in spec.matrix_dense.items():
        sparse = ", ".join(f"{p} {_fmt(t)} ({t / dense:.2f}x)" for p, t in spec.sparse_options(dtype))
        if spec.any_nm:
            sparse = f"any N:M at dense x M/N (M <= {spec.sparse.max_m})"
        lines.append(f"    {dtype:5s} dense {_fmt(dense)}" + (f"; sparse {sparse}" if sparse else ""))
    lines.append("  vector peaks (TFLOPS): " + ", ".join(f"{d} {_fmt(v)}" for d, v in spec.vector.items()))
    lines.append("  memory:")
    for level in spec.memory:
        pj = spec.energy_byte.get(level.name)
        lines.append(f"    {level.name}: {_fmt(level.capacity_gib)} GiB, {_fmt(level.bandwidth_gbps)} GB/s"
                     + (f", {_fmt(pj)} pJ/byte" if pj is not None else ""))
    if spec.sparse:
        s = spec.sparse
        lines.append(f"  sparse: operand={s.operand}, transposed_dgrad={str(s.transposed_dgrad).lower()}, "
                     f"metadata={s.metadata_encoding}"
                     + (f" at {_fmt(s.metadata_bandwidth_gbps)} GB/s" if s.metadata_bandwidth_gbps else ""))
        t = spec.sparse_tile
        lines.append(f"  sparse padding: M to {t.m}, K to {t.k}, N to {t.n}"
                     + "".join(f"; {d}: K to {x.k}" for d, x in spec.sparse_tile_by_dtype.items()))
    else:
        soft = [k.name for k in (spec.execution or {}).get("kernels") or () if k.kind == "compressed-weight"]
        lines.append("  sparse: no sparse hardware; software N:M kernels: " + ", ".join(soft) if soft
                     else "  sparse: no sparse kernel (N:M plans run dense)")
    pts = spec.efficiency_points
    from nmsim.units import si
    eff = _fmt(pts[0][1]) if len(pts) == 1 else " ".join(f"{si(x).replace(' ', '')}:{_fmt(y)}" for x, y in pts)
    lines.append(f"  efficiency (GEMM FLOPs: fraction of peak): {eff}")
    if spec.energy_flop:
        lines.append("  energy (pJ/FLOP dense/sparse): "
                     + ", ".join(f"{d} {_fmt(a)}/{_fmt(b)}" for d, (a, b) in spec.energy_flop.items()))
    if spec.derivation:
        lines.append("  derivation:")
        lines.extend("    " + line for line in spec.derivation.rstrip().splitlines())
    sources = sorted(set(spec.sources.values()))
    lines.append(f"  sources ({len(sources)}):")
    lines.extend(f"    - {s}" for s in sources)
    return "\n".join(lines)


def cmd_show(args) -> int:
    print(describe(load(args.spec)))
    return 0


def cmd_validate(args) -> int:
    for path in args.files:
        load_file(path)
        print(f"ok: {path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("hardware", help="list, show and validate accelerator specs")
    sub = parser.add_subparsers(dest="hardware_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="bundled specs as a table")
    from nmsim.cli.output import FORMATS, add_columns
    p.add_argument("--format", choices=FORMATS, default="table")
    add_columns(p)
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="readable summary of a bundled spec or YAML file")
    p.add_argument("spec", metavar="NAME|FILE")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("validate", help="check YAML spec files; prints 'ok: FILE' or a one-line error")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
