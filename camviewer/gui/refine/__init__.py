"""The refinement wizard: measure, build the enhanced set, fine-tune, re-measure, compare."""
