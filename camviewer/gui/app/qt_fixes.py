"""Workarounds for bugs in the Qt bindings, each applied only where the bug is detected.

PySide6 6.12.0: ``SignalInstance.emit()`` returns ``True`` without a new reference, so every emit made
from Python (ours, superqt's, pyqtgraph's) takes one reference away from ``True``. On Python < 3.12,
where ``True`` is not immortal, a long session (scrolling thousands of thumbnails) then dies with
"Fatal Python error: bool_dealloc". The fix gives back the missing reference after each emit.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_applied = False


class _Probe(QObject):
    fired = Signal()


def emit_steals_a_reference() -> bool:
    """True when an emit's returned bool comes without a reference of its own."""
    probe = _Probe()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(8):
        probe.fired.emit()
    after = sys.getrefcount(True), sys.getrefcount(False)
    return after[0] < before[0] or after[1] < before[1]


def fix_signal_emit_refcount() -> bool:
    """Patch ``SignalInstance.emit`` if (and only if) this PySide6 has the bug. Returns whether it patched."""
    global _applied
    if _applied or not emit_steals_a_reference():
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]

    def emit(self, *args):
        result = original(self, *args)
        if result is True or result is False:
            incref(result)  # the reference the binding forgot to give
        return result

    SignalInstance.emit = emit
    _applied = True
    return True
