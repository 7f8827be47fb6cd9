"""Structural rules from DESIGN.md that a reviewer should not have to check by eye."""

import ast
import subprocess
import sys
from pathlib import Path

import camviewer

PACKAGE = Path(camviewer.__file__).parent
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "superqt", "pyqtgraph", "qtpy"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_never_imports_qt():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path) & QT_MODULES)
        for path in (PACKAGE / "core").rglob("*.py")
        if imported_roots(path) & QT_MODULES
    }
    assert offenders == {}


def test_qt_scan_detects_a_qt_import(tmp_path):
    # The rule above must be able to fail: feed it a file that imports Qt the sneaky way.
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from PySide6.QtCore import QObject\n    import pyqtgraph as pg\n")
    assert imported_roots(sample) & QT_MODULES == {"PySide6", "pyqtgraph"}


def test_importing_core_at_runtime_loads_no_qt():
    code = (
        "import sys, camviewer.core, pkgutil, importlib\n"
        "import camviewer.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('camviewer.core.' + m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(QT_MODULES)!r})\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_import_is_lazy_about_torch():
    code = "import sys, camviewer, camviewer.cli; camviewer.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
