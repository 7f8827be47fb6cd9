"""The desktop viewer: Qt widgets, the main window and the workers that call the engine.

Nothing here computes a CAM or touches a tensor: widgets call :mod:`camviewer.core` through
background workers (:mod:`camviewer.gui.jobs.registry`, :mod:`camviewer.gui.viewer.tasks`) and show what comes
back. torch is never imported by this package at import time, so the window paints before it loads.
"""
