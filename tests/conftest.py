"""Test-session settings shared by every test module."""
import os
import tempfile

# The trace cache (nmsim.graph.cache) goes to a fresh folder per test session, never the user's ~/.cache, and
# commands only read it (tests/test_shapes.py exercises building it): traces stay one per shape, as before.
os.environ["NMSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-cache-")
os.environ["NMSIM_CACHE"] = "read"
# Which output files nmsim wrote (nmsim.io.ledger): a per-session ledger, never the user's ~/.local/state.
os.environ["NMSIM_STATE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-state-")
