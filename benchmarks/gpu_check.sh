#!/usr/bin/env bash
# One pass of checks on a machine with a CUDA GPU; every step has a time limit, and one step's failure never
# stops the next. Run from the repository root, with .devsite built by benchmarks/make_devsite.sh beside it:
#
#   OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Writes $OUT/env.txt, tests.log, bench_cam.log, vit.log (and summary.txt: each step's exit status).
# GPU_CHECK_DRY=1: the same command lines on the CPU, scaled down, to check that every one parses and runs.
# WORKERS=N: DataLoader workers per training run of the sweep (default 3; they only stream data that does not fit
# in memory, so the 2000 synthetic images here never use them). Four runs train at once, 4 CPU threads each.
set +e
OUT=${OUT:?set OUT to the folder for the logs}
mkdir -p "$OUT"
ROOT=$PWD
export PYTHONPATH=$ROOT:$ROOT/.devsite
export PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg MPLCONFIGDIR=/tmp/gpu_check_mpl
PY=${PY:-python3}
# matplotlib for Python 3.12 from .devsite, only where the machine has none of its own
"$PY" -c "import matplotlib" 2>/dev/null || export PYTHONPATH=$PYTHONPATH:$ROOT/.devsite/mpl312
WORK=${GPU_CHECK_WORK:-/tmp/gpu_check}
rm -rf "$WORK"
mkdir -p "$WORK"
started=$(date +%s)

if [ -n "$GPU_CHECK_DRY" ]; then
    DEVICE=cpu CUDA_TEST_LIMIT=300 TEST_LIMIT=900 BENCH_LIMIT=600 SWEEP_LIMIT=400 N=60 EPOCHS=2 PATIENCE=30 WORKERS=1 THREADS=1
    BENCH_ARGS=(--archs resnet18,timm:vit_small_patch16_224 --batches 1 --repeats 1 --many-size 32 --many-repeats 1)
    TESTS=(tests/test_rollout.py)
else
    DEVICE=cuda CUDA_TEST_LIMIT=180 TEST_LIMIT=150 BENCH_LIMIT=120 SWEEP_LIMIT=210 N=2000 EPOCHS=150 PATIENCE=30 WORKERS=${WORKERS:-3} THREADS=4
    BENCH_ARGS=(--archs resnet18,densenet121,timm:vit_small_patch16_224,swin_t --batches 1,16 --repeats 10 --amp)
    # the engine against pytorch-grad-cam, torchcam and captum (on the CPU) with this machine's torch and timm
    TESTS=(tests/test_cam.py tests/test_rollout.py tests/test_cam_transformers.py tests/test_cam_methods.py)
fi

# cores 0-1: the 2-core CPU scaling benchmark; 2-3: tests; 4-: the sweep (when taskset exists and there are 8+)
SCALE_PIN=() TEST_PIN=() SWEEP_PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 8 ]; then
    SCALE_PIN=(taskset -c 0-1) TEST_PIN=(taskset -c 2-3) SWEEP_PIN=(taskset -c 4-$(($(nproc) - 1)))
fi

step() {  # step NAME LOG SECONDS COMMAND...: run it under a time limit, log its exit status
    local name=$1 log=$2 limit=$3
    shift 3
    local t0=$(date +%s)
    echo "== $name: $*" >>"$log"
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    local line="$name: rc=$rc$([ $rc -eq 124 ] && echo " (timed out after ${limit} s)") in $(($(date +%s) - t0)) s"
    echo "$line" | tee -a "$log" "$OUT/summary.txt"
    return $rc
}

# (b) the machine
{
    date -u
    nvidia-smi 2>&1 || echo "no nvidia-smi"
    "$PY" - <<'PYEOF'
import sys, torch
print("python", sys.version)
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
print("cuda available:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for name in ("torchvision", "timm", "numpy", "scipy", "sklearn", "cv2", "PIL", "matplotlib", "pytorch_grad_cam",
             "torchcam", "captum", "monai", "nibabel", "pydicom", "safetensors"):
    try:
        module = __import__(name)
        print(f"{name} {getattr(module, '__version__', '?')} from {module.__file__}")
    except Exception as error:
        print(f"{name}: cannot import ({type(error).__name__}: {error})")
PYEOF
    echo "PYTHONPATH=$PYTHONPATH"
    nproc
    free -g
} >"$OUT/env.txt" 2>&1

# (e, started first) the ViT recipe sweep: four configurations training at once, in the background
SWEEP_LOG=$OUT/vit.log
DATA=$WORK/cells
step synth "$SWEEP_LOG" 90 "$PY" -m camviewer synth "$DATA" --kind cells --n "$N" --seed 7
declare -A CONFIGS=(
    [d192x6_jax_lr1e-3]='{"patch_size": 8, "embed_dim": 192, "depth": 6, "num_heads": 3, "weight_init": "jax"}|1e-3'
    [d192x6_jax_lr5e-4]='{"patch_size": 8, "embed_dim": 192, "depth": 6, "num_heads": 3, "weight_init": "jax"}|5e-4'
    [d128x4_jax_lr1e-3]='{"patch_size": 8, "embed_dim": 128, "depth": 4, "num_heads": 4, "weight_init": "jax"}|1e-3'
    [d192x6_p4_jax_lr5e-4]='{"patch_size": 4, "embed_dim": 192, "depth": 6, "num_heads": 3, "weight_init": "jax"}|5e-4'
)
NAMES=(d192x6_jax_lr1e-3 d192x6_jax_lr5e-4 d128x4_jax_lr1e-3 d192x6_p4_jax_lr5e-4)

sweep_one() {  # train one configuration, then its test accuracy (evaluate) and pointing game (localize)
    local name=$1 options=${CONFIGS[$1]%|*} lr=${CONFIGS[$1]#*|} run=$WORK/run_$1 log=$WORK/sweep_$1.log
    local t0=$(date +%s)
    step "train $name" "$log" "$SWEEP_LIMIT" "${SWEEP_PIN[@]}" "$PY" -m camviewer train "$DATA" --out "$run" \
        --arch timm:vit_tiny_patch16_224 --arch-options "$options" --input-size 64x64 --lr "$lr" \
        --epochs "$EPOCHS" --patience "$PATIENCE" --augment standard --device "$DEVICE" --workers "$WORKERS" --threads "$THREADS" --seed 0
    local seconds=$(($(date +%s) - t0))
    if [ ! -f "$run/best.safetensors" ]; then
        echo "$name: no best.safetensors" | tee -a "$log" "$OUT/summary.txt"
        return
    fi
    # the test split of the run's split.csv; localize scores the images that have a mask (the positives)
    step "evaluate $name" "$log" 45 "$PY" -m camviewer evaluate "$DATA" --model "$run/best.safetensors" \
        --split test --out "$WORK/eval_$name" --device "$DEVICE" >/dev/null
    step "localize $name" "$log" 45 "$PY" -m camviewer localize "$DATA" --model "$run/best.safetensors" \
        --masks "$DATA/masks" --split test --method gradcam,rollout --out "$WORK/loc_$name" --device "$DEVICE" >/dev/null
    "$PY" - "$name" "$run" "$WORK/eval_$name" "$WORK/loc_$name" "$seconds" >>"$log" 2>&1 <<'PYEOF'
import csv, json, sys
from pathlib import Path
name, run, evaluation, localization, seconds = sys.argv[1:]
with open(Path(run) / "history.csv", newline="") as handle:
    history = list(csv.DictReader(handle))
best = min(history, key=lambda row: float(row["val_loss"])) if history else {}
metrics = Path(evaluation) / "metrics.json"
accuracy = json.loads(metrics.read_text())["accuracy"] if metrics.exists() else float("nan")
summary = Path(localization) / "summary.json"
pointing = {}
if summary.exists():
    for method, scores in json.loads(summary.read_text())["summary"].items():
        pointing[method] = (scores["pointing_game"], scores["chance_pointing_game"], scores["with_region"])
print(
    f"RESULT {name}: test accuracy {accuracy:.3f}; {len(history)} epochs, best {best.get('epoch')} "
    f"(val acc {float(best.get('val_acc', 'nan')):.3f}); train time {seconds} s wall, "
    f"{sum(float(row['seconds']) for row in history):.0f} s in epochs; pointing game "
    + ", ".join(f"{m} {p:.3f} (chance {c:.3f}, {n} images)" for m, (p, c, n) in pointing.items())
)
PYEOF
}

pids=()
for name in "${NAMES[@]}"; do
    sweep_one "$name" &
    pids+=($!)
done

# issue 15: torchrun scaling on two quiet CPU cores (1 process x 2 threads against 2 x 1), beside the sweep
if [ -z "$GPU_CHECK_DRY" ]; then
    step bench_scale_cpu "$OUT/bench_scale.log" 280 env CUDA_VISIBLE_DEVICES= "${SCALE_PIN[@]}" "$PY" benchmarks/bench_scale.py \
        --repeats 2 --images 120 --train-images 240 --epochs 4 &
    scale_pid=$!
fi

# (c) tests, while the sweep trains (they check agreement; the timings come later, on a quiet GPU)
step test_cuda "$OUT/tests.log" "$CUDA_TEST_LIMIT" "${TEST_PIN[@]}" "$PY" -m pytest -q -rfEs -p no:cacheprovider --durations=5 tests/test_cuda.py
step engine_tests "$OUT/tests.log" "$TEST_LIMIT" "${TEST_PIN[@]}" "$PY" -m pytest -q -rfE -p no:cacheprovider --durations=5 "${TESTS[@]}"

for pid in "${pids[@]}" $scale_pid; do wait "$pid"; done
for name in "${NAMES[@]}"; do
    {
        echo "== $name: ${CONFIGS[$name]}"
        grep -E "^epoch [0-9]+/" "$WORK/sweep_$name.log" | tail -2
        grep -E "^(finished|test |camviewer:|RESULT|train |evaluate |localize |Traceback|[A-Za-z]*Error)" "$WORK/sweep_$name.log"
    } >>"$SWEEP_LOG"
done

# (d) CAM cost on the GPU, the sweep done (the recipe and folder sections time CPU work: skipped)
step bench_cam "$OUT/bench_cam.log" "$BENCH_LIMIT" "$PY" benchmarks/bench_cam.py --device "$DEVICE" \
    "${BENCH_ARGS[@]}" --skip-recipe --skip-folder

# issue 15 on the GPU: the sharded export against a plain no-grad loop, and training, on 1 GPU (all there is)
[ -z "$GPU_CHECK_DRY" ] && step bench_scale_gpu "$OUT/bench_scale.log" 100 "$PY" benchmarks/bench_scale.py \
    --images 600 --repeats 2

cat "$OUT/summary.txt" >>"$SWEEP_LOG"
echo "total: $(($(date +%s) - started)) s" | tee -a "$OUT/summary.txt"
