"""The engine: images, models, CAMs, training, metrics. Never imports Qt (a test enforces it)."""
