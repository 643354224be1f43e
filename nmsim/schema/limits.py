"""Sanity limits on the counts spec files and cluster questions take, each with its reason (far above any
published run, far below what makes a search slow). ``nmsim.cluster.limits`` applies them to command lines."""
from __future__ import annotations

# Devices in one system: 64 x the 16,384 H100s of the largest published training run (Llama 3 405B; Dubey et
# al. 2024, "The Llama 3 Herd of Models", section 3.3.1).
MAX_DEVICES = 2**20
# Sequences per optimizer step: the workload batch limit (nmsim.graph.config), far above published runs (GPT-3's
# 3.2 M-token batch is 1,563 sequences of 2,048; Brown et al. 2020, table 2.1).
MAX_GLOBAL_BATCH = 2**24
DEVICES_WHY = "a sanity limit: 64 x the 16,384 GPUs of the largest published training run, Llama 3 405B"
