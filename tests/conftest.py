"""Test-session settings shared by every test module."""
import os
import tempfile

# The trace cache (nmsim.graph.cache) goes to a fresh folder per test session, never the user's ~/.cache, and
# commands only read it (tests/test_shapes.py exercises building it): traces stay one per shape, as before.
os.environ["NMSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-cache-")
os.environ["NMSIM_CACHE"] = "read"
