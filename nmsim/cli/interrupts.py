"""Signals during one command: SIGTERM and SIGHUP raise like Ctrl-C, and none lands inside a native import.

A signal's Python handler runs at the next bytecode, wherever that is. While torch (or another extension built on
pybind11) initialises, that can be a Python callback inside C++ start-up code, where the exception cannot travel:
the process aborts (``terminate called after throwing an instance of 'pybind11::error_already_set'``, exit -6)
instead of stopping cleanly. :func:`signals_as_interrupts` therefore holds SIGINT, SIGTERM and SIGHUP while such a
package is first imported, and re-raises a held signal the moment the import returns.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import signal
import sys
import threading

from nmsim.io.signals import held_signals

# Top-level packages whose first import runs pybind11 start-up code (checked: a SIGINT during `import torch`
# aborted 2 runs in 150).
NATIVE = frozenset({"torch", "scipy", "matplotlib"})


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, like Ctrl-C's KeyboardInterrupt: every ``finally`` and
    ``except BaseException`` that removes a temp file or folder, or releases a lock, runs for it too."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


class _HeldLoader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` with signals held, then hands the module back its own loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            with held_signals():
                self.loader.exec_module(module)
        finally:
            module.__loader__ = module.__spec__.loader = self.loader

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _NativeImports(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in NATIVE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HeldLoader(spec.loader)
        return spec


@contextlib.contextmanager
def signals_as_interrupts():
    """For one command: SIGTERM and SIGHUP raise :class:`Terminated` (a signal the parent set to be ignored, as
    ``nohup`` does, stays ignored), and the first import of a package in :data:`NATIVE` holds signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _terminate)
    finder = _NativeImports()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
