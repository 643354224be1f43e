"""Memory footprints: KV cache, compressed weights, training states."""
import pytest

from nmsim.cost import kv_cache_bytes, memory_footprint, trace_for_mode
from nmsim.graph import load_workload, parameter_counts, trace_workload


def test_llama3_8b_kv_cache_8192_bf16_is_1_gib():
    cfg = load_workload("llama-3-8b")
    assert kv_cache_bytes(cfg, 8192, 1, "bf16") == 2 * 32 * 8 * 128 * 8192 * 2 == 2 ** 30


def test_decode_footprint_kv_and_fit():
    g = trace_for_mode("llama-3-8b", "decode", context=8192)
    m = memory_footprint(g, "ff=2:4", "a100", "bf16", "decode", context=8192, batch=1)
    assert m.loc["kv_cache", "gib"] == 1.0
    assert m.attrs["fits"] and m.loc["total", "bytes"] == pytest.approx(m["bytes"].drop("total").sum())


@pytest.mark.parametrize("dtype,ratio", [("bf16", 9 / 16), ("int8", 10 / 16)])
def test_nvidia_24_weights(dtype, ratio):
    g = trace_workload(load_workload("vit-tiny"), batch=1)
    m = memory_footprint(g, "all=2:4", "a100", dtype)
    sparse = m.loc["weights_sparse_values", "bytes"] + m.loc["weights_metadata", "bytes"]
    assert sparse / m.attrs["sparse_dense_bytes"] == pytest.approx(ratio)
    dense = memory_footprint(g, None, "a100", dtype)
    assert dense.loc["weights_sparse_values", "bytes"] == 0
    assert m.loc["total", "bytes"] < dense.loc["total", "bytes"]


def test_tpu_has_no_sparse_weights():
    g = trace_workload(load_workload("vit-tiny"), batch=1)
    m = memory_footprint(g, "all=2:4", "tpu-v4", "bf16")
    assert m.loc["weights_sparse_values", "bytes"] == 0  # stored dense: the hardware cannot use 2:4


def test_training_states_masks_and_recompute():
    g = trace_workload(load_workload("vit-tiny"), batch=8)
    full = memory_footprint(g, "ff=2:4", "a100", "bf16", "training")
    rc = memory_footprint(g, "ff=2:4", "a100", "bf16", "training", recompute="full", mask_storage="bits")
    p = parameter_counts(load_workload("vit-tiny"))["total"]
    assert full.loc["optimizer", "bytes"] == 12 * p and full.loc["gradients", "bytes"] == 2 * p   # mixed: 16 B
    assert full.attrs["precision"] == "mixed" and full.attrs["recompute"] == "none"
    assert full.loc["masks", "bytes"] == 8 * rc.loc["masks", "bytes"]
    assert rc.loc["activations", "bytes"] < full.loc["activations", "bytes"]
