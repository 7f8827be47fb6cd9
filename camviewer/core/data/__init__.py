"""Datasets: ``index`` (which images, labels and splits; no torch), ``decode`` (decode and check once),
``loaders`` (torch datasets and loaders), ``summary`` (what the user sees before training)."""
