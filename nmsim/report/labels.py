"""Point labels that do not overlap: each label goes to the nearest free spot around its point.

A greedy pass in display space on the figure's final layout (call it last, after legends and ``tight_layout``):
labels are placed most-crowded first; for each, candidate boxes on rings of growing radius around the point
(upper right first) are tried until one lies inside the axes and overlaps no placed label, no marker and no
``avoid`` box (a legend, say). A label placed away from its point gets a thin leader line. Offsets are in
points, so the placement holds at any ``savefig`` dpi.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.transforms import Bbox

RADII_PT = (2, 5, 9, 14, 20, 28, 38, 50, 65, 85, 110, 140)
ANGLES = [math.radians(a) for a in (35, 0, 90, -35, 145, 180, -90, -145, 60, -60, 120, -120)]
MARKER_PT = 3.5      # half-size of the box kept free around every point
PAD_PT = 0.8         # gap kept between boxes


def _overlaps(box: Bbox, boxes: list[Bbox], pad: float) -> bool:
    return any(box.x0 < b.x1 + pad and b.x0 < box.x1 + pad and box.y0 < b.y1 + pad and b.y0 < box.y1 + pad
               for b in boxes)


def place_labels(ax, xs, ys, texts, colors=None, fontsize: float = 6, avoid=(), markers_pt=None) -> list:
    """Annotate points (``xs``, ``ys`` in data coordinates) with ``texts``; returns the annotations. Points that
    are NaN are skipped. ``avoid``: artists (e.g. a legend) whose boxes labels must not cover; ``markers_pt``:
    per point, the half-size of its marker in points (default :data:`MARKER_PT`)."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    keep = [i for i, (x, y) in enumerate(zip(xs, ys)) if np.isfinite(x) and np.isfinite(y)]
    if not keep:
        return []
    points = ax.transData.transform(np.column_stack([np.asarray(xs, float)[keep], np.asarray(ys, float)[keep]]))
    frame = ax.get_window_extent(renderer)
    half = [px * (MARKER_PT if markers_pt is None else markers_pt[i]) for i in keep]
    taken = [Bbox([[x - m, y - m], [x + m, y + m]]) for (x, y), m in zip(points, half)]
    taken += [a.get_window_extent(renderer) for a in avoid if a is not None]
    sizes = [_text_size(ax, renderer, str(texts[i]), fontsize) for i in keep]
    out = []
    for k in _most_crowded_first(points, px):
        (x, y), (w, h) = points[k], sizes[k]
        box, r = _free_spot(x, y, w, h, half[k] / px, px, frame, taken)
        taken.append(box)
        i = keep[k]
        color = colors[i] if colors is not None else "black"
        leader = _leader(box, x, y, color, half[k] / px) if r >= 14 else None
        out.append(ax.annotate(str(texts[i]), (xs[i], ys[i]), xytext=((box.x0 - x) / px, (box.y0 - y) / px),
                               textcoords="offset points", ha="left", va="bottom", fontsize=fontsize, color=color,
                               arrowprops=leader, annotation_clip=False))
    return out


def _text_size(ax, renderer, text: str, fontsize: float) -> tuple[float, float]:
    """(width, height) in display units of ``text`` drawn at ``fontsize``."""
    probe = ax.text(0, 0, text, fontsize=fontsize, transform=None)
    box = probe.get_window_extent(renderer)
    probe.remove()
    return box.width, box.height


def _most_crowded_first(points: np.ndarray, px: float) -> list[int]:
    """Point indices, those with most neighbours within 40 pt first (they have the fewest free spots), then by x."""
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    crowd = (dist < 40 * px).sum(axis=1)
    return sorted(range(len(points)), key=lambda k: (-crowd[k], points[k][0]))


def _side(v: float, size: float) -> float:
    """How far a box of ``size`` starts before a ring point whose direction component is ``v``."""
    return size if v < -1e-9 else 0 if v > 1e-9 else size / 2


def _free_spot(x: float, y: float, w: float, h: float, marker_pt: float, px: float, frame, taken: list) -> tuple:
    """(box, ring radius in points) of the first candidate inside the axes that overlaps nothing taken; else the
    nearest spot up and right of the point (the overlap stays visible), at radius 2."""
    for r in RADII_PT:
        ring = (marker_pt + r) * px
        for a in ANGLES:
            # the box touches the ring point on the side facing the marker
            cx, cy = x + ring * math.cos(a), y + ring * math.sin(a)
            x0, y0 = cx - _side(math.cos(a), w), cy - _side(math.sin(a), h)
            box = Bbox([[x0, y0], [x0 + w, y0 + h]])
            inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
            if inside and not _overlaps(box, taken, PAD_PT * px):
                return box, r
    return Bbox([[x + 2 * px, y + 2 * px], [x + 2 * px + w, y + 2 * px + h]]), 2


def _leader(box: Bbox, x: float, y: float, color, marker_pt: float) -> dict:
    """A thin line from the box corner or edge facing the point to the point's marker."""
    rel = (0.0 if box.x0 >= x else 1.0 if box.x1 <= x else 0.5, 0.0 if box.y0 >= y else 1.0 if box.y1 <= y else 0.5)
    return dict(arrowstyle="-", lw=0.4, color=color, alpha=.7, shrinkA=0, shrinkB=marker_pt, relpos=rel)
