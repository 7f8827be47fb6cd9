import os

# Must be set before any QApplication exists: with no display, Qt would abort the process.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch from oversubscribing the two CI cores when pytest and DataLoaders run together.
os.environ.setdefault("OMP_NUM_THREADS", "2")

# GUI fixtures live in tests/gui_helpers.py (loaded by the GUI test modules as a plugin, so core tests load
# no Qt); its asserts must be rewritten like those of a conftest.
import pytest

pytest.register_assert_rewrite("gui_helpers")


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from a second thread; on a busy 2-core machine it makes them 10x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
