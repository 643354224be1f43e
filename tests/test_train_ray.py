"""The Ray executor runs the same job function as the local one (skipped when Ray is not installed)."""
from __future__ import annotations

import pytest

from nmsim.train.sweep import plan, run_sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_sweep_matches_local(tmp_path, local_ray):
    configs = plan("digits", ["static"], [{"ff": "1:4"}, {"ff": "1:8"}], [0], epochs=1)
    via_ray = run_sweep(configs, tmp_path / "ray", executor="ray", workers=2, echo=lambda *_: None)
    via_local = run_sweep(configs, tmp_path / "local", executor="local", workers=1, echo=lambda *_: None)
    assert not via_ray.attrs["failures"] and len(via_ray) == 2
    a = via_ray.sort_values("pattern")[["pattern", "accuracy", "loss"]].reset_index(drop=True)
    b = via_local.sort_values("pattern")[["pattern", "accuracy", "loss"]].reset_index(drop=True)
    assert a.equals(b)
