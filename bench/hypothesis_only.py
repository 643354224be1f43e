"""A pytest plugin for ``bench/bench_bad_input.py``: run only the property tests of the files given, and count
the examples hypothesis runs in each (through its observability callbacks, so a hypothesis test built and run
inside a test, one per API function say, is counted too; ``--hypothesis-show-statistics`` misses those).

Kept: hypothesis tests (``@given``, parametrized or not) and tests named for random or mutated input. The
counts (passed, failed, gave_up = invalid examples, and the test's outcome) go as JSON to the file named by
``BENCH_HYPOTHESIS_OUT``."""
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis.internal.observability import add_observability_callback

NAMED = re.compile(r"propert|random|mutat|fuzz")
COUNTS: dict = {}
CURRENT: list = [None]


def _row(nodeid: str) -> dict:
    return COUNTS.setdefault(nodeid, {"passed": 0, "failed": 0, "gave_up": 0, "outcome": ""})


def _seen(observation) -> None:
    if getattr(observation, "type", None) == "test_case" and CURRENT[0] is not None:
        row = _row(CURRENT[0])
        row[observation.status] = row.get(observation.status, 0) + 1


def pytest_configure(config):
    add_observability_callback(_seen)


def pytest_collection_modifyitems(config, items):
    keep = [item for item in items if getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
            or NAMED.search(getattr(item, "originalname", item.name))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    CURRENT[0] = item.nodeid
    yield
    CURRENT[0] = None


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed:
        _row(report.nodeid)["outcome"] = report.outcome


def pytest_sessionfinish(session):
    if os.environ.get("BENCH_HYPOTHESIS_OUT"):
        Path(os.environ["BENCH_HYPOTHESIS_OUT"]).write_text(json.dumps(COUNTS, indent=1))
