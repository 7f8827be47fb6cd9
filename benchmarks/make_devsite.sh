#!/usr/bin/env bash
# Build .devsite/: the Python packages that benchmarks/gpu_check.sh needs on a GPU machine that lacks them.
#
#   bash benchmarks/make_devsite.sh [SITE_PACKAGES]     (from the repository root; default: /work/main/.venv's)
#
# .devsite/         pure-Python packages copied from SITE_PACKAGES (checked: no compiled file), without
#                   tests and caches: monai, nibabel, pydicom, pytorch_grad_cam, ttach, torchcam, captum, tqdm.
# .devsite/mpl312/  matplotlib for CPython 3.12 (the GPU machine's Python), wheels from PyPI: camviewer's
#                   reports draw with it, and pytorch-grad-cam and captum import it. gpu_check.sh adds it to
#                   PYTHONPATH only when that machine has no matplotlib of its own.
#
# .devsite must stay out of git: add it to the main checkout's .git/info/exclude (shared by every worktree),
#   echo .devsite/ >> "$(git rev-parse --git-common-dir)/info/exclude"
# and carry it to the device: run(carry=[".devsite"], ...).
set -euo pipefail
SITE=${1:-/work/main/.venv/lib/python3.11/site-packages}
DEST=.devsite
PY=${PY:-/work/main/.venv/bin/python}
PACKAGES=(monai nibabel pydicom pytorch_grad_cam ttach torchcam captum tqdm)
DISTRIBUTIONS=(monai nibabel pydicom grad_cam ttach torchcam captum tqdm)  # their dist-info names
MPL=(matplotlib contourpy kiwisolver cycler pyparsing python_dateutil)    # pinned to SITE's versions
# (and fonttools: its pure-Python wheel, downloaded on its own)
LIMIT_MIB=50

[ -f pyproject.toml ] || { echo "run from the repository root" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST"
for package in "${PACKAGES[@]}"; do
    [ -d "$SITE/$package" ] || { echo "missing: $SITE/$package" >&2; exit 1; }
    compiled=$(find "$SITE/$package" \( -name '*.so' -o -name '*.pyd' -o -name '*.so.*' \) | head -3)
    [ -z "$compiled" ] || { echo "$package is not pure Python: $compiled" >&2; exit 1; }
    tar -C "$SITE" --exclude=__pycache__ --exclude=tests --exclude=test_files -cf - "$package" | tar -C "$DEST" -xf -
done
for distribution in "${DISTRIBUTIONS[@]}"; do  # importlib.metadata finds their versions
    cp -r "$SITE/$distribution"-*.dist-info "$DEST/"
done

# matplotlib and its compiled dependencies, built for CPython 3.12 on x86-64 Linux
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
pins=()
for distribution in "${MPL[@]}"; do
    version=$(basename "$SITE/$distribution"-*.dist-info .dist-info | sed "s/^$distribution-//")
    pins+=("${distribution//_/-}==$version")
done
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --implementation cp --python-version 3.12 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$wheels" "${pins[@]}" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
fonttools=$(basename "$SITE"/fonttools-*.dist-info .dist-info | sed "s/^fonttools-//")
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform any \
    -d "$wheels" "fonttools==$fonttools" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
[ "$(ls "$wheels"/*.whl | wc -l)" -eq $((${#MPL[@]} + 1)) ] || { echo "not every matplotlib wheel came: $(ls "$wheels")" >&2; exit 1; }
for wheel in "$wheels"/*.whl; do
    "$PY" -m zipfile -e "$wheel" "$DEST/mpl312/"
done
# what an Agg PNG needs: no test suite, sample data, or fonts other than DejaVu Sans and Computer Modern
fonts="$DEST/mpl312/matplotlib/mpl-data/fonts"
rm -rf "$DEST/mpl312/matplotlib/tests" "$DEST/mpl312/matplotlib/mpl-data/sample_data" \
    "$fonts/afm" "$fonts/pdfcorefonts" "$fonts"/ttf/STIX* "$fonts"/ttf/DejaVuSerif* "$fonts"/ttf/DejaVuSansMono*
find "$DEST" -name __pycache__ -type d -prune -exec rm -rf {} +

size_kib=$(du -sk "$DEST" | cut -f1)
echo "$DEST: $((size_kib / 1024)) MiB ($(du -sh "$DEST/mpl312" | cut -f1) of it matplotlib for Python 3.12)"
du -sh "$DEST"/* | sort -h | tail -6
[ "$size_kib" -le $((LIMIT_MIB * 1024)) ] || { echo "$DEST is over $LIMIT_MIB MiB" >&2; exit 1; }
