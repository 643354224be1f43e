"""Runs inside a peer tool's own venv (started by bench_peers.py): times that tool's Python API on the sweep
(``spec["repeats"]`` passes per mode; bench_peers runs one per round, alternating with nmsim) and, when
``spec["flops"]``, reports the FLOPs it computes. Prints one JSON object. Usage: python peers_worker.py TOOL
JSON_SPEC.

Peers (their API as published; read from their sources, called unmodified):
* llm-analysis: ``llm_analysis.analysis.infer`` / ``train`` (one call per configuration); FLOPs from
  ``LLMAnalysis.get_num_flops_fwd_total``.
* GenZ (package genz-llm): ``GenZ.prefill_moddeling`` / ``decode_moddeling``; FLOPs from its per-operator table
  (``model_profilling=True``), whose "Num ops" column counts multiply-accumulates.
"""
from __future__ import annotations

import json
import logging
import sys
import time
import warnings


def _sweep(call, batches, repeats: int = 1) -> dict:
    """Seconds of each of ``repeats`` passes over the batch sizes, after one untimed call (the tool's imports
    and first-call set-up: these sweeps are timed warm, as nmsim's are; its first call is timed separately)."""
    try:
        call(batches[0])
    except Exception:  # noqa: BLE001 - refused for memory: counted below as it ran
        pass
    times = []
    for _ in range(repeats):
        errors, start = 0, time.perf_counter()
        for b in batches:
            try:
                call(b)
            except Exception:  # noqa: BLE001 - a configuration the tool refuses (does not fit memory) still ran
                errors += 1
        times.append(time.perf_counter() - start)
    return {"times": times, "configs": len(batches), "errors": errors}


def llm_analysis(spec: dict) -> dict:
    from llm_analysis.analysis import LLMAnalysis, infer, train
    from llm_analysis.config import (ParallelismConfig, get_dtype_config_by_name, get_gpu_config_by_name,
                                     get_model_config_by_name)

    logging.disable(logging.CRITICAL)
    model, gpu, seq = spec["llm_analysis_model"], spec["llm_analysis_gpu"], spec["seq"]
    common = dict(model_name=model, gpu_name=gpu, dtype_name="w16a16e16", log_level="CRITICAL")
    batches, n = spec["batches"], spec.get("repeats", 1)
    out = {"version": _version("llm-analysis")}
    out["prefill"] = _sweep(lambda b: infer(batch_size_per_gpu=b, seq_len=seq, num_tokens_to_generate=1,
                                            **common)["prefill_latency"], batches, n)
    out["decode"] = _sweep(lambda b: infer(batch_size_per_gpu=b, seq_len=seq, num_tokens_to_generate=1,
                                           **common)["decode_latency"], batches, n)
    # one A100 cannot hold 7B weights + Adam states: ZeRO-3 over 8 GPUs (batch > 25 still raises: out of memory)
    out["training"] = _sweep(lambda b: train(batch_size_per_gpu=b, seq_len=seq, total_num_gpus=8, ds_zero=3,
                                             **common), batches, n)
    if not spec.get("flops"):
        return out
    analysis = LLMAnalysis(get_model_config_by_name(model), get_gpu_config_by_name(gpu),
                           get_dtype_config_by_name("w16a16e16"), ParallelismConfig())
    fb, fs = spec["flops_batch"], spec["flops_seq"]
    out["prefill_flops"] = float(analysis.get_num_flops_fwd_total(fb, fs))
    out["prefill_flops_parts"] = {
        "attention_per_layer": float(analysis.get_num_flops_fwd_per_layer_attn(fb, fs)),
        "mlp_per_layer": float(analysis.get_num_flops_fwd_per_layer_mlp(fb, fs)),
    }
    return out


def genz(spec: dict) -> dict:
    warnings.filterwarnings("ignore")
    from GenZ import decode_moddeling, prefill_moddeling

    model, system, seq = spec["genz_model"], spec["genz_system"], spec["seq"]
    batches, n = spec["batches"], spec.get("repeats", 1)
    out = {"version": _version("genz-llm")}
    out["prefill"] = _sweep(lambda b: prefill_moddeling(model=model, batch_size=b, input_tokens=seq,
                                                        system_name=system, bits="bf16"), batches, n)
    out["decode"] = _sweep(lambda b: decode_moddeling(model=model, batch_size=b, input_tokens=seq, output_tokens=1,
                                                      system_name=system, bits="bf16"), batches, n)
    if not spec.get("flops"):
        return out
    df, _ = prefill_moddeling(model=model, batch_size=spec["flops_batch"], input_tokens=spec["flops_seq"],
                              system_name=system, bits="bf16", model_profilling=True)
    names = [str(n) for n in df["Layer Name"]]
    ops = [float(x) for x in df["Num ops (MFLOP)"]]
    layers = 1
    total, parts = 0.0, {}
    for name, macs in zip(names, ops):  # ops between Repeat and End Repeat run once per layer
        if name == "Repeat":
            layers = int(df.loc[names.index("Repeat"), "Dimension"])
            continue
        if name == "End Repeat":
            layers = 1
            continue
        flops = 2.0 * macs * 1e6 * layers
        total += flops
        parts[name] = parts.get(name, 0.0) + flops
    out["prefill_flops"] = total
    out["prefill_flops_parts"] = parts
    return out


def _version(dist: str) -> str:
    from importlib import metadata

    return metadata.version(dist)


if __name__ == "__main__":
    tool, spec = sys.argv[1], json.loads(sys.argv[2])
    result = {"llm-analysis": llm_analysis, "genz": genz}[tool](spec)
    print("RESULT " + json.dumps(result))
