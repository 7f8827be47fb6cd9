"""The viewer: folder browser, image view with the CAM layer, model and CAM panels, compare grid, export."""
