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
    sizes = []
    for i in keep:
        probe = ax.text(0, 0, str(texts[i]), fontsize=fontsize, transform=None)
        box = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((box.width, box.height))
    # most crowded first: those have the fewest free spots
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    crowd = (dist < 40 * px).sum(axis=1)
    order = sorted(range(len(keep)), key=lambda k: (-crowd[k], points[k][0]))
    out = []
    for k in order:
        (x, y), (w, h) = points[k], sizes[k]
        best = None
        for r in RADII_PT:
            for a in ANGLES:
                ring = half[k] / px + r
                cx, cy = x + ring * px * math.cos(a), y + ring * px * math.sin(a)
                # the box touches the ring point on the side facing the marker
                x0 = cx - (w if math.cos(a) < -1e-9 else 0 if math.cos(a) > 1e-9 else w / 2)
                y0 = cy - (h if math.sin(a) < -1e-9 else 0 if math.sin(a) > 1e-9 else h / 2)
                box = Bbox([[x0, y0], [x0 + w, y0 + h]])
                inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
                if inside and not _overlaps(box, taken, PAD_PT * px):
                    best = (box, r)
                    break
            if best:
                break
        if best is None:   # nowhere free: the nearest spot inside the axes (the overlap stays visible)
            box = Bbox([[x + 2 * px, y + 2 * px], [x + 2 * px + w, y + 2 * px + h]])
            best = (box, 2)
        box, r = best
        taken.append(box)
        i = keep[k]
        color = colors[i] if colors is not None else "black"
        leader = None
        if r >= 14:   # from the box corner or edge facing the point
            rel = (0.0 if box.x0 >= x else 1.0 if box.x1 <= x else 0.5, 0.0 if box.y0 >= y else 1.0 if box.y1 <= y
                   else 0.5)
            leader = dict(arrowstyle="-", lw=0.4, color=color, alpha=.7, shrinkA=0, shrinkB=half[k] / px, relpos=rel)
        out.append(ax.annotate(str(texts[i]), (xs[i], ys[i]), xytext=((box.x0 - x) / px, (box.y0 - y) / px),
                               textcoords="offset points", ha="left", va="bottom", fontsize=fontsize, color=color,
                               arrowprops=leader, annotation_clip=False))
    return out
