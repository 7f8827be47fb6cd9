import os

# Must be set before any QApplication exists: with no display, Qt would abort the process.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch from oversubscribing the two CI cores when pytest and DataLoaders run together.
os.environ.setdefault("OMP_NUM_THREADS", "2")
