"""Do the maps point at the right place? ``localization`` (scores of one map), ``groundtruth`` (masks, boxes,
COCO), ``dataset`` (localization and faithfulness over a dataset), ``faithfulness`` (deletion/insertion),
``sanity`` (weight randomization), ``refine`` (the enhanced training set of the refinement cycle).
"""
