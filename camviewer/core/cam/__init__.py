"""Class activation maps from one forward and (at most) one backward pass.

``names`` (method names, no torch), ``methods`` (the maths of each map), ``layers`` (candidate and automatic
target layers), ``engine`` (``compute_cams``: hooks, the single pass, targets), ``display`` (maps placed back
on the original image).
"""
