"""Background work: the worker registry, a one-job runner with throttled progress, progress bars, the job
controls (run, cancel, progress with the time left, status), "latest request wins" tickets, relays."""
