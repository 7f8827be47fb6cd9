"""The Evaluation dock: metrics table, ROC plot, clickable confusion matrix, report export."""
