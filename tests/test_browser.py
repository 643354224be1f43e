"""Render the report's index.html in headless Chromium: every <img> is an embedded PNG and the page is not blank.

Skips (with the reason) where no ``chromium`` binary is installed (Debian: ``apt-get install chromium``).
"""
import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nmsim.report.writer import Figure, Report, Table, write_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless browser check needs `chromium` on PATH "
                                                          "(apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[1]


def _page(tmp_path) -> Path:
    committed = ROOT / "reports" / "default" / "index.html"
    if committed.exists():
        return committed
    import matplotlib.pyplot as plt
    import pandas as pd
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    rep = Report("browser check")
    rep.section("s", "text").items += [Figure("f", fig, "a line"), Table("t", pd.DataFrame({"a": [1, 2]}))]
    return write_report(rep, tmp_path / "r") / "index.html"


def _chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_dom_images_are_embedded_pngs(tmp_path):
    page = _page(tmp_path)
    res = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    imgs = re.findall(r"<img\b[^>]*>", res.stdout)
    assert imgs, "no <img> in the rendered DOM"
    for tag in imgs:
        src = re.search(r'src="([^"]*)"', tag).group(1)
        assert src.startswith("data:image/png;base64,"), src[:60]
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table" in res.stdout


def test_screenshot_not_blank(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    page = _page(tmp_path)
    shot = tmp_path / "shot.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    assert shot.exists(), res.stderr[-2000:]
    img = imread(shot)
    gray = img[..., :3].mean(axis=2)
    assert gray.std() > 0.01, "screenshot is blank"
    assert (gray < 0.5).mean() > 0.0005, "no dark pixels (text/figures) in the screenshot"
