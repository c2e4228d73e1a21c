#!/usr/bin/env bash
# The CUDA checks in one run (about 5 minutes on one H100 / H200; budget 8):
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]          (default: benchmarks/results/gpu)
#
# 1. installs what loco needs beside the machine's own CUDA torch: from wheels in .whl/ when the machine
#    is offline (`make gpu-wheels` downloads them on a machine that reaches PyPI), else from PyPI
#    without touching torch;
# 2. runs the test suite's CUDA-marked tests (`pytest -m cuda`: count loss, training with AMP on and
#    off, the piano architecture (key context, key mix, output weights at zero) trained on CUDA,
#    detection, each against the CPU);
# 3. bench_count_loss.py, bench_train.py (drums: AMP on, AMP off; piano: AMP on, AMP off) and
#    bench_detect.py (drums and piano, CPU rows beside the CUDA rows of the same run) on CUDA.
#
# Writes <what>_<gpu>.json (and the test log) to OUT_DIR, plus gpu_check_<gpu>.json: the GPU, the
# versions, and each step's exit status and seconds. A failing step is recorded and the rest go on;
# the script exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-benchmarks/results/gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1

if ! $PY -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    echo "gpu_check: torch sees no CUDA device here ($($PY -c 'import torch; print(torch.__version__)' 2>&1))" >&2
    exit 2
fi
if ! $PY -c "import librosa, soundfile, mir_eval, soxr, typer, rich" 2>/dev/null; then
    if compgen -G ".whl/*.whl" >/dev/null; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/loco-site .whl/*.whl || exit 3
        export PYTHONPATH=/tmp/loco-site${PYTHONPATH:+:$PYTHONPATH}
    else  # online: loco's dependencies at the measured versions, the machine's CUDA torch kept
        grep -v '^torch==' constraints.txt > /tmp/loco-constraints.txt
        $PY -m pip install -q -c /tmp/loco-constraints.txt librosa soundfile mir_eval soxr typer rich || exit 3
    fi
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
TAG=$(echo "$GPU" | tr 'A-Z' 'a-z' | sed -E 's/nvidia//; s/[^a-z0-9]+/-/g; s/^-+|-+$//g' | cut -d- -f1)
TAG=${TAG:-gpu}
echo "gpu_check on $GPU -> $OUT_DIR/*_$TAG.json"

STEPS_FILE=$(mktemp)
step() {  # step NAME LIMIT_S COMMAND...: run, record the exit status and time
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name"
    timeout "$limit" "$@"
    local rc=$?
    echo "$name $rc $((SECONDS - t0))" >> "$STEPS_FILE"
    echo "== $name: exit $rc, $((SECONDS - t0)) s"
}

step tests 240 bash -c "set -o pipefail; $PY -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py 2>&1 | tee '$OUT_DIR/tests_$TAG.txt'"
step count_loss 90 $PY benchmarks/bench_count_loss.py --device cuda --json "$OUT_DIR/count_loss_$TAG.json"
step train_amp 90 $PY benchmarks/bench_train.py --device cuda --amp on --sizes '' --json "$OUT_DIR/train_amp_$TAG.json"
step train_fp32 90 $PY benchmarks/bench_train.py --device cuda --amp off --sizes '' --profile 10 --json "$OUT_DIR/train_fp32_$TAG.json"
step train_piano_amp 90 $PY benchmarks/bench_train.py --device cuda --amp on --preset piano --sizes '' --json "$OUT_DIR/train_piano_amp_$TAG.json"
step train_piano_fp32 90 $PY benchmarks/bench_train.py --device cuda --amp off --preset piano --sizes '' --profile 10 --json "$OUT_DIR/train_piano_fp32_$TAG.json"
step detect 180 $PY benchmarks/bench_detect.py --device cuda --piano --json "$OUT_DIR/detect_$TAG.json"

$PY - "$STEPS_FILE" "$OUT_DIR/gpu_check_$TAG.json" "$GPU" <<'EOF'
import json, platform, subprocess, sys, time
import torch
steps = {}
for line in open(sys.argv[1]):
    name, rc, secs = line.split()
    steps[name] = {"exit": int(rc), "seconds": int(secs)}
smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                     capture_output=True, text=True).stdout.strip()
json.dump({"gpu": sys.argv[3], "nvidia_smi": smi, "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "machine": platform.platform(), "date": time.strftime("%Y-%m-%d"),
           "command": "bash benchmarks/gpu_check.sh", "steps": steps},
          open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
bad = [k for k, v in steps.items() if v["exit"] != 0]
print("gpu_check: all steps passed" if not bad else f"gpu_check: failed: {', '.join(bad)}")
sys.exit(1 if bad else 0)
EOF
