"""Evaluation: ``metrics`` (classification metrics from labels and probabilities), ``run`` (a model over a
dataset or split), ``report`` (metrics.json, predictions, ROC, confusion matrix and curve plots)."""
