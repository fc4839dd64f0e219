#!/usr/bin/env bash
# GPU check: run the speed benchmark and a few GPU-specific checks in one go (< 5 minutes on
# one H100/H200). Meant for a machine with an NVIDIA GPU, run from the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]
#
# It installs the project with the GPU extra if TensorFlow sees no GPU yet, then
#   1. prints what TensorFlow sees,
#   2. trains the dcgan preset for 3 epochs on the bundled digits (mixed bfloat16, XLA),
#   3. runs a 10,000,000-sample Monte Carlo simulation in bfloat16 and float32,
#   4. runs `python -m benchmarks.speed --gpu` (its figures go to OUT_DIR/speed.json).
set -euo pipefail
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
export GANMC_OFFLINE=1 PYTHONUNBUFFERED=1
python - <<'PY' || pip install -q -e ".[gpu]"
import tensorflow as tf, sys
sys.exit(0 if tf.config.list_physical_devices("GPU") else 1)
PY
python - <<'PY' | tee "$out/devices.txt"
import tensorflow as tf
print("TensorFlow", tf.__version__, "GPUs:", tf.config.list_physical_devices("GPU"))
PY
time ganmc train --data bundled --arch dcgan --epochs 3 --batch-size 512 --mc-samples 100000 \
    --out "$out/model" 2>&1 | tail -n 5 | tee "$out/train.txt"
for precision in bfloat16 float32; do
    /usr/bin/env time -v ganmc simulate --model "$out/model" --samples 10000000 \
        --precision "$precision" --out "$out/sim-$precision" 2>&1 \
        | grep -E "Monte Carlo|threshold|Maximum resident" | tee -a "$out/simulate.txt" || true
done
python -m benchmarks.speed --gpu --json "$out/speed.json" 2>&1 | tail -n 60 | tee "$out/speed.txt"
