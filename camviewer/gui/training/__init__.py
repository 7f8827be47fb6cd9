"""The Training dock: dataset preview, the form, live curves, progress, the training runner and its tasks."""
