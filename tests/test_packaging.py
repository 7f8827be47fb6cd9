"""Desktop integration, launcher, resources from source/wheel/bundle. Wheel and bundle builds are `slow`."""

import configparser
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import camviewer
from camviewer import desktop
from camviewer.core import paths

ROOT = Path(__file__).resolve().parent.parent


def read_desktop_file(path):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_is_valid():
    entry = read_desktop_file(ROOT / "resources" / "camviewer.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "camviewer"
    assert entry["Exec"] == "camviewer %F" and entry["Icon"] == "camviewer"
    assert entry["Terminal"] == "false" and entry["StartupWMClass"] == "camviewer"
    mimes = entry["MimeType"].rstrip(";").split(";")
    assert {"image/png", "image/jpeg", "image/tiff", "application/dicom"} <= set(mimes)
    assert entry["Categories"].rstrip(";").split(";") == ["Science", "MedicalSoftware"]  # one main category
    for key in ("Categories", "MimeType", "Keywords"):
        assert entry[key].endswith(";")  # the spec's list syntax
    if subprocess.run(["which", "desktop-file-validate"], capture_output=True).returncode == 0:
        check = subprocess.run(
            ["desktop-file-validate", str(ROOT / "resources" / "camviewer.desktop")], capture_output=True, text=True
        )
        assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stdout + check.stderr


def test_icons_exist_in_every_size():
    from PIL import Image

    for size in desktop.ICON_SIZES:
        with Image.open(paths.resource_path("icons", f"camviewer-{size}.png")) as icon:
            assert icon.size == (size, size) and icon.mode == "RGBA"
    assert paths.resource_path("icons", "camviewer.svg").read_text().startswith("<svg")


def test_install_and_uninstall_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    unrelated = tmp_path / "applications" / "other.desktop"
    unrelated.parent.mkdir(parents=True)
    unrelated.write_text("[Desktop Entry]\nName=other\n")
    written = desktop.install()
    entry_path = tmp_path / "applications" / "camviewer.desktop"
    assert entry_path in written and len(written) == 1 + len(desktop.ICON_SIZES) + 1
    entry = read_desktop_file(entry_path)
    assert entry["Exec"].endswith(" %F") and "camviewer" in entry["Exec"] and "TryExec" not in entry
    assert (tmp_path / "icons" / "hicolor" / "48x48" / "apps" / "camviewer.png").is_file()
    removed = desktop.uninstall()
    assert sorted(removed) == sorted(written)
    assert not entry_path.exists() and unrelated.read_text().startswith("[Desktop Entry]")
    assert desktop.uninstall() == []  # a second uninstall has nothing to do


def run_camviewer(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "camviewer", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_launcher_version_and_help():
    version = run_camviewer("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"camviewer {camviewer.__version__}"
    helped = run_camviewer("--help")
    assert helped.returncode == 0
    for command in ("explain", "train", "evaluate", "localize", "refine", "--install-desktop-entry"):
        assert command in helped.stdout


def test_desktop_flags_through_the_launcher(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    assert run_camviewer("--install-desktop-entry", env=env).returncode == 0
    assert (tmp_path / "applications" / "camviewer.desktop").is_file()
    assert run_camviewer("--uninstall-desktop-entry", env=env).returncode == 0
    assert not (tmp_path / "applications" / "camviewer.desktop").exists()


def test_no_display_gives_one_clear_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = run_camviewer(env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "xvfb-run" in lines[0] and "offscreen" in lines[0]
    assert "Aborted" not in result.stderr and "qt.qpa" not in result.stderr


def test_self_test_mode_runs_the_real_window_offscreen(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # nothing of the user's may be touched
    result = run_camviewer("--self-test", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "torch not yet imported" in result.stdout  # the window came first
    assert "weights/demo.safetensors" in result.stdout and "predicted parasitized" in result.stdout
    assert result.stdout.rstrip().endswith("self-test passed")
    assert not list(tmp_path.iterdir())


def test_resources_found_from_the_source_checkout():
    assert paths.resource_path("camviewer.desktop") == ROOT / "resources" / "camviewer.desktop"
    assert paths.demo_model_path() == ROOT / "weights" / "demo.safetensors"
    assert paths.demo_model_path().is_file()
    assert len(paths.sample_images()) >= 4


def test_user_folders_follow_xdg(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.user_config_dir() == tmp_path / "config" / "camviewer"
    assert paths.user_cache_dir() == tmp_path / "cache" / "camviewer"


@pytest.mark.slow
def test_wheel_installs_and_finds_its_resources(tmp_path):
    """Build the wheel, install it into a fresh venv (dependencies borrowed from this one), use it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheel"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("camviewer-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    code = (
        "from camviewer.core import paths; import camviewer; "
        "print(paths.resource_path('camviewer.desktop')); print(paths.demo_model_path()); "
        "print(len(paths.sample_images())); print(camviewer.__file__)"
    )
    lines = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    installed = Path(site) / "camviewer"
    assert lines[0] == str(installed / "resources" / "camviewer.desktop")
    assert lines[1] == str(installed / "weights" / "demo.safetensors") and Path(lines[1]).is_file()
    assert int(lines[2]) >= 4 and lines[3].startswith(str(installed))
    info = subprocess.run([venv / "bin" / "camviewer", "info", lines[1]], capture_output=True, text=True, cwd=tmp_path)
    assert info.returncode == 0 and '"class_names"' in info.stdout


@pytest.mark.slow
def test_bundle_builds_and_passes_its_self_test(tmp_path):
    """`make bundle` equivalent into a temporary folder, then the bundled app's offscreen self-test."""
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(tmp_path / "dist"),
            "--workpath",
            str(tmp_path / "build"),
            str(ROOT / "build.spec"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    executable = tmp_path / "dist" / "camviewer" / "camviewer"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    result = subprocess.run([executable, "--self-test"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    version = subprocess.run([executable, "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert version.stdout.strip() == f"camviewer {camviewer.__version__}"
