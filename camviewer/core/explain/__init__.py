"""Explaining images: ``run`` (decode, batch, compute CAMs, upsample), ``export`` (the folder export behind
`camviewer explain`), ``records`` (results, no torch)."""
