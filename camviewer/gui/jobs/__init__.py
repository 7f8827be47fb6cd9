"""Background work: the worker registry, a one-job runner with throttled progress, progress bars, relays."""
