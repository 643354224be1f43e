"""The report's options as the user types them (recipes, patterns, accelerators): parsed without matplotlib or
torch, so a typo is reported before the study imports anything heavy."""
from __future__ import annotations

from nmsim.errors import UserError

from nmsim.recipes.registry import PAPER_RECIPES, parse_recipe_list  # noqa: F401  (no torch behind it)

DEFAULT_PATTERNS = ("dense", "ff=2:4", "ff=1:4", "ff=1:8", "ff=1:16", "ff=1:32", "ff=1:128",
                    "ff=1:4,qk=1:4", "ff=1:8,qk=1:8", "ff=1:8,qk=1:4", "ff=1:8,qkv=1:4")


def normalize_plan(text: str, where: str = "--patterns") -> str:
    """One plan as the report keys it: ``2:4`` -> ``ff=2:4``, ``ff=1:8+qk=1:4`` -> ``ff=1:8,qk=1:4``."""
    from nmsim.sparsity.lists import parse_pattern_list, plan_text

    return plan_text(parse_pattern_list([text], where)[0])


def parse_patterns(text: str) -> list[str]:
    """The shared pattern list (bare patterns on ff; ``default``: the report's set), dense always first."""
    from nmsim.sparsity.lists import parse_pattern_list, plan_text

    if text.strip().lower() == "default":
        return list(DEFAULT_PATTERNS)
    plans = list(dict.fromkeys(plan_text(t) for t in parse_pattern_list(text)))
    if "dense" not in plans:
        plans.insert(0, "dense")
    return plans


def parse_name(name: str | None) -> str | None:
    """The report's name: its title, and its folder ``reports/<name>`` when no ``--out`` is given, so a name
    that is a path (``/``, ``\\``, ``..``) or no name (``.``) is refused."""
    if name is None:
        return None
    if name.strip() in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise UserError("a report name is one folder name (it names reports/<name>): not empty, '.' or '..', no "
                        "'/' or '\\'; give another folder as --out", f"--name {name!r}")
    return name


def parse_recipes(text: str) -> list[str]:
    """The shared recipe list (default ``paper``) without dense: the report always sets dense beside them."""
    names = [n for n in parse_recipe_list(text) if n != "dense"]
    if not names:
        raise UserError("no sparse recipe given", "--recipes")
    return names


def parse_hardware(text: str) -> list:
    from nmsim.hardware import load, parse_hardware_list

    names = parse_hardware_list(text)
    specs = []
    for n in names:
        try:
            specs.append(load(n))
        except UserError as exc:
            raise UserError(str(exc), "--hardware") from None
    return specs


def parse_cluster(text: str) -> tuple[str, str, int | None]:
    """``WORKLOAD@SYSTEM[:NODES]`` -> (workload, system, nodes or None)."""
    workload, at, system = text.partition("@")
    system, colon, nodes = system.partition(":")
    if not at or not workload.strip() or not system.strip():
        raise UserError(f"expected WORKLOAD@SYSTEM[:NODES] (e.g. llama-2-7b@dgx-h100:4), got {text!r}", "--cluster")
    if colon and not (nodes.isdigit() and int(nodes) > 0):
        raise UserError(f"nodes must be a positive whole number, got {nodes!r}", "--cluster")
    return workload.strip(), system.strip(), int(nodes) if colon else None


def cluster_error(exc: UserError) -> UserError:
    """An error of the cluster code, naming the report's own options (it names cluster plan's flags)."""
    flag = {"--nodes": "--cluster", "--tokens": "--cluster-tokens"}.get(exc.where)
    return UserError(exc.message, flag) if flag else UserError(str(exc), "--cluster")


def check_cluster(text: str, tokens: float) -> tuple[str, str, int | None]:
    """``--cluster`` and ``--cluster-tokens`` checked before the study's imports: the grammar, the workload, the
    system and its node count, the token count (:mod:`nmsim.cluster.limits`). Returns ``parse_cluster``'s parts."""
    workload, system, nodes = parse_cluster(text)
    if not tokens > 0:
        raise UserError(f"must be a positive number of tokens, got {tokens:g}", "--cluster-tokens")
    from nmsim.cluster.limits import steps_for
    from nmsim.cluster.system import load_system
    from nmsim.graph import load_workload
    try:
        seq = load_workload(workload).seq_len
        load_system(system, nodes)
        steps_for(tokens, max(1, round(4 * 2 ** 20 / seq)), seq)   # the report's global batch (4M-token steps)
    except UserError as exc:
        raise cluster_error(exc) from None
    return workload, system, nodes
