"""Structural rules from DESIGN.md that a reviewer should not have to check by eye."""

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

import camviewer

PACKAGE = Path(camviewer.__file__).parent
ROOT = PACKAGE.parent
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "superqt", "pyqtgraph", "qtpy"}
MAX_MODULE_LINES = 400
# Feature packages of the GUI: the lower packages (jobs, common) never import them, and features import app never.
GUI_FEATURES = ("viewer", "volume", "training", "evaluation", "trust", "refine")
GUI_LOWER = ("jobs", "common")
# Modules the GUI may import before torch has loaded (records and names): they must not import torch.
TORCH_FREE = (
    "camviewer.core.model.card",
    "camviewer.core.model.recipe",
    "camviewer.core.model.volume_recipe",
    "camviewer.core.cam.names",
    "camviewer.core.data.index",
    "camviewer.core.data.summary",
    "camviewer.core.data.labels",
    "camviewer.core.explain.records",
    "camviewer.core.training.records",
    "camviewer.core.training.defaults",
    "camviewer.core.trust.comparison",
    "camviewer.core.trust.refine",
    "camviewer.core.volumes",  # reading volumes needs no torch; camviewer.core.volumes.resample does
)


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
        "for m in pkgutil.walk_packages(c.__path__, 'camviewer.core.'): importlib.import_module(m.name)\n"
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


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path, root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the package's modules it imports, at the top or lazily inside functions alike."""
    modules = {module_name(path, root): path for path in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph(PACKAGE)) == []


def test_cycle_check_finds_a_lazy_cycle(tmp_path):
    # The check must be able to fail: two modules that import each other, one of them inside a function.
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    import pkg.a\n")
    (package / "c.py").write_text("import pkg.a\n")
    assert cycles(import_graph(package, tmp_path)) == [["pkg.a", "pkg.sub.b"]]


def test_gui_root_holds_only_feature_packages():
    gui = PACKAGE / "gui"
    assert sorted(path.name for path in gui.glob("*.py")) == ["__init__.py"]


def test_gui_imports_flow_from_app_to_features_to_lower_packages():
    graph = import_graph(PACKAGE)
    wrong = []
    for module, targets in graph.items():
        parts = module.split(".")
        if parts[:2] == ["camviewer", "core"]:
            wrong += [(module, t) for t in targets if not t.startswith("camviewer.core")]
        if parts[:2] != ["camviewer", "gui"] or len(parts) < 3:
            continue
        package = parts[2]
        for target in targets:
            target_package = target.split(".")[2] if target.startswith("camviewer.gui.") else None
            if package in GUI_LOWER and target_package in (*GUI_FEATURES, "app"):
                wrong.append((module, target))
            if package in GUI_FEATURES and target_package == "app":
                wrong.append((module, target))
    assert wrong == []


def test_no_module_is_too_long():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_record_modules_load_without_torch():
    code = f"import sys\nfor name in {TORCH_FREE!r}: __import__(name)\nprint('torch' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_every_package_is_installed():
    # The wheel lists its packages by hand (resources/ and weights/ are mapped in): a new package must be listed.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    assert packages - listed == set()
