"""Test-session settings shared by every test module."""
import os
import signal
import tempfile

from hypothesis import HealthCheck, settings

# The trace cache (nmsim.graph.cache) goes to a fresh folder per test session, never the user's ~/.cache, and
# commands only read it (tests/test_shapes.py exercises building it): traces stay one per shape, as before.
os.environ["NMSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-cache-")
os.environ["NMSIM_CACHE"] = "read"
# Which output files nmsim wrote (nmsim.io.ledger): a per-session ledger, never the user's ~/.local/state.
os.environ["NMSIM_STATE_DIR"] = tempfile.mkdtemp(prefix="nmsim-test-state-")
# A suite started in the background by a non-interactive shell (`make test &`, a CI step) inherits SIGINT ignored,
# and so would every nmsim process it starts: the Ctrl-C tests would then pass without a Ctrl-C ever landing, or
# fail. Python's own handler here; a handler (unlike "ignored") resets to the default in the processes it starts.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Property tests are timed by nothing: a per-example deadline or the too-slow health check fails a correct test on a
# loaded machine (an example's first call imports pandas or torch). A runaway input is bounded by CI's timeout.
settings.register_profile("nmsim-suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nmsim-suite")
