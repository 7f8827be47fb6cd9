import os

# Must be set before any QApplication exists: with no display, Qt would abort the process.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch from oversubscribing the two CI cores when pytest and DataLoaders run together.
os.environ.setdefault("OMP_NUM_THREADS", "2")

# GUI fixtures live in tests/gui_helpers.py (loaded by the GUI test modules as a plugin, so core tests load
# no Qt); its asserts must be rewritten like those of a conftest.
import pytest  # noqa: E402

pytest.register_assert_rewrite("gui_helpers")
