"""The volume view: a CT or MR volume in three orthogonal planes with its map, for the viewer to show.

``volume_view`` (the three planes, slice navigation, crosshair, window/level and the map layer), ``plane_view``
(one plane), ``tasks`` (what the viewer's worker calls for a volume: reading it, its list entries, thumbnails,
the export of its map).
"""
