"""Trust: ground truth over the image (dialog, overlay, scores) and the Trust dock over a dataset."""
