"""Small shared pieces: settings, file helpers, path fields, status and log widgets, tables, plot styling."""
