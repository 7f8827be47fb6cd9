"""Scores per method next to what chance would score, and the best method only when it beats chance.

Chance, per map (see ``localization``): the pointing game's expected hit rate of a point drawn
uniformly at random (the share of the image within the tolerance of the region); the energy inside a
region or ROI of a flat map (the region's share of the image); IoU and Dice of the same number of
switched-on pixels scattered at random; box IoU of the predicted box at a random position.

A method *beats chance* when its pointing-game hits are more than chance explains: under the null
hypothesis every image's peak lands in its region with that image's chance probability, so the number
of hits follows a Poisson binomial distribution, and the one-sided p-value is P(hits >= observed)
(``scipy.stats.poisson_binom``). The best method is the one with the highest pointing game (then energy
in the region) among those that beat chance at ``ALPHA``; with none, no method is named.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import poisson_binom

SCORES = ("pointing_hit", "iou", "dice", "box_iou", "energy_in_region", "energy_in_roi")
ALPHA = 0.05


def summarize(rows: Sequence, methods: Sequence[str]) -> dict[str, dict]:
    """Per method: the mean of each score over the maps where it applies, with chance's mean over the
    same maps (``chance_<score>``); the pointing game's p-value against chance and ``beats_chance``."""
    summary = {}
    for method in methods:
        mine = [row for row in rows if row.method == method]
        entry = {
            "images": len({row.path for row in mine}),
            "maps": len(mine),
            "with_region": sum(row.has_region for row in mine),
        }
        for score in SCORES:
            scored = [row for row in mine if getattr(row, score) is not None]
            values = [float(getattr(row, score)) for row in scored]
            chances = [getattr(row, f"chance_{score}") for row in scored]
            entry[score] = float(np.mean(values)) if values else None
            entry[f"chance_{score}"] = float(np.mean(chances)) if chances and None not in chances else None
        entry["pointing_game"] = entry.pop("pointing_hit")
        entry["chance_pointing_game"] = entry.pop("chance_pointing_hit")
        hits = [bool(row.pointing_hit) for row in mine if row.pointing_hit is not None]
        chances = [row.chance_pointing_hit for row in mine if row.pointing_hit is not None]
        entry["pointing_game_p"] = float(poisson_binom.sf(sum(hits) - 1, chances)) if hits else None
        entry["beats_chance"] = bool(
            hits and entry["pointing_game_p"] < ALPHA and entry["pointing_game"] > entry["chance_pointing_game"]
        )
        summary[method] = entry
    return summary


def best_method(summary: dict[str, dict]) -> dict:
    """{"method": the best method or None, "reason": why (or why none)}."""
    candidates = [method for method, entry in summary.items() if entry.get("beats_chance")]
    if not candidates:
        if not any(entry.get("pointing_game") is not None for entry in summary.values()):
            return {"method": None, "reason": "no scored image has a ground-truth region"}
        return {
            "method": None,
            "reason": f"no method's pointing game beats chance (one-sided p < {ALPHA} against random points)",
        }
    best = max(candidates, key=lambda m: (summary[m]["pointing_game"], summary[m]["energy_in_region"] or 0.0))
    entry = summary[best]
    p = entry["pointing_game_p"]
    return {
        "method": best,
        "reason": f"pointing game {entry['pointing_game']:.3f} against {entry['chance_pointing_game']:.3f} "
        f"by chance ({'p < 0.001' if p < 0.001 else f'p = {p:.3f}'})",
    }
