# Two commands work on a fresh machine: `make run` and `make test`.
# Each creates .venv if missing and (re)installs the project when pyproject.toml changed: `make run` the
# runtime dependencies only, `make test` also the test tools (reference CAM libraries, ruff, pytest).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.camviewer-installed
TEST_STAMP := $(VENV)/.camviewer-test-installed
# System tools some tests use to validate our files: desktop-file-validate, and Chromium for the HTML report.
# Installed with apt-get where that is possible (Debian, as root); elsewhere those tests say what is missing.
SYSTEM_TOOLS := desktop-file-utils chromium

.PHONY: run test lint format system-tools test-slow bench train-defaults refine-cycle screenshots demo-weights bundle clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $(STAMP) $(TEST_STAMP)

run: $(STAMP)
	$(VENV)/bin/camviewer

test: $(TEST_STAMP) lint system-tools
	$(PY) -m pytest -q

system-tools:
	@if command -v desktop-file-validate >/dev/null && command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q --no-install-recommends $(SYSTEM_TOOLS) >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $(SYSTEM_TOOLS) >/dev/null 2>&1) \
		|| echo "note: could not install $(SYSTEM_TOOLS); the tests that need them will say so"; \
	else echo "note: install $(SYSTEM_TOOLS) for the file-validation tests"; fi

# ruff (configured in pyproject.toml): lint and format check, seconds; `make format` applies both.
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check camviewer tests benchmarks
	$(VENV)/bin/ruff format --check camviewer tests benchmarks

format: $(TEST_STAMP)
	$(VENV)/bin/ruff check --fix camviewer tests benchmarks
	$(VENV)/bin/ruff format camviewer tests benchmarks

test-slow: $(TEST_STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test,bundle]'
	$(PY) -m pytest -q -m slow

# Speed, measured against baselines in the same run (see the README's tables).
bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_cam.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_gui.py
	$(PY) benchmarks/bench_volume.py
	$(PY) benchmarks/bench_scale.py

# Training with nothing but --arch on fresh synthetic cells: test accuracy, pointing game, time.
train-defaults: $(STAMP)
	$(PY) benchmarks/train_defaults.py

# The CAM-guided refinement cycle on data with a known shortcut, every mode side by side (before/after).
refine-cycle: $(STAMP)
	$(PY) benchmarks/refine_cycle.py

# README screenshots, rendered by the app itself offscreen (QWidget.grab).
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m camviewer.gui.app.screenshots docs/screenshots

# One-folder PyInstaller bundle in dist/camviewer/; check it with its self-test.
bundle: $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[bundle]'
	$(PY) -m PyInstaller --noconfirm build.spec
	QT_QPA_PLATFORM=offscreen dist/camviewer/camviewer --self-test

clean:
	rm -rf build dist .pytest_cache

# The built-in demo model (weights/demo.safetensors) and sample images (resources/samples/), made by
# camviewer's own commands: 1,000 synthetic malaria cell crops (seed 0), a CAM-ready TinyVGG-GAP trained
# with a 70/15/15 stratified split; its test metrics land in the card's notes and in build/demo-run/test/.
# The samples come from another seed (held out), with their lesion masks under the same names.
# One torch thread: the same numbers on any machine, and on a busy shared 2-core box it is 3-5x faster
# than two threads fighting for one free core (about 1 minute on this machine either way when idle).
DEMO_DATA := build/demo-data
DEMO_RUN := build/demo-run
DEMO_SAMPLES := build/demo-samples

demo-weights: $(STAMP)
	rm -rf $(DEMO_DATA) $(DEMO_RUN) $(DEMO_SAMPLES)
	$(VENV)/bin/camviewer-cli synth $(DEMO_DATA) --kind cells --n 1000 --seed 0
	$(VENV)/bin/camviewer-cli train $(DEMO_DATA) --arch tinyvgg_gap --widths 8,16,32 --input-size 96 \
		--batch-size 16 --epochs 12 --patience 4 --val-split 0.15 --test-split 0.15 --seed 0 --device cpu --threads 1 \
		--out $(DEMO_RUN)
	mkdir -p weights resources/samples/masks
	cp $(DEMO_RUN)/best.safetensors weights/demo.safetensors
	$(VENV)/bin/camviewer-cli synth $(DEMO_SAMPLES) --kind cells --n 6 --seed 1
	rm -f resources/samples/*.png resources/samples/masks/*.png
	cd $(DEMO_SAMPLES) && for image in parasitized/*.png uninfected/*.png; do \
		name=$$(dirname $$image)_$$(basename $$image); \
		cp $$image ../../resources/samples/$$name; \
		cp masks/$$image ../../resources/samples/masks/$$name; \
	done
	@echo "wrote weights/demo.safetensors ($$(du -k weights/demo.safetensors | cut -f1) KB) and resources/samples/"
