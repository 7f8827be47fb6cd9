"""Work spread over several processes started by torchrun: ``world`` (the process group and its collectives),
``shards`` (each process's share of a list), ``events`` (a run's progress as JSON lines for whoever watches it)."""
