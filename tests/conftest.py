"""Test-session settings shared by every test module."""
import os
import tempfile

# The trace cache (nmsim.graph.cache) goes to a fresh folder per test session, never the user's ~/.cache.
os.environ["NMSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-cache-")
