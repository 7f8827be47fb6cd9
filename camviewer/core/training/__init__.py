"""Training: ``records`` (config, progress payloads, result; no torch), ``setup`` (data, card, model, optimizer),
``session`` (the live state of a run), ``loop`` (epochs, early stopping, saving and resuming)."""
