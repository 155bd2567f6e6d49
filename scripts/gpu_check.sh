#!/usr/bin/env bash
# GPU check: does minimax run, and compute the same numbers, on this machine's GPU?
#
#   scripts/gpu_check.sh                 # from a checkout; PYTHON=python3 (or .venv/bin/python if there)
#   PYTHON=/opt/torch/.venv/bin/python3 scripts/gpu_check.sh
#
# On a CUDA machine, in order (about 5 minutes on one H200; each step prints its wall time):
#   1. python / torch / CUDA / GPU versions
#   2. the tests that use the GPU (tests/test_cuda.py: Oracle products CUDA vs CPU in float64, every
#      precision on the image game, checkpoint + resume on CUDA)
#   3. python -m scripts.bench_images with hardware=cuda for hardware.precision fp32, tf32, bf16 (DCGAN width 256,
#      GDA-5, HessianFR-DG, HessianFR-CG1, LEAD-Adam; it/s ratios to GDA-5)
#   4. a short image GAN run with FID (synthetic CIFAR-shaped images, untrained Inception: weights=random)
#   5. the 1-D MoG GAN with FR and HessianFR on cuda vs the same run on the CPU, float64, 5 steps: max
#      relative difference of every metric and of the final players (python -m minimax_cli.selfcheck.devices)
# Without CUDA every step runs in a CPU-sized form that checks the script itself (tiny networks, bf16
# only, FR only, cpu vs cpu), and the CUDA-only tests are skipped: CI runs it so (tests/test_environment.py).
# The missing pure-Python packages of an existing environment (hydra-core, omegaconf, POT, pytorch-fid)
# can be added with pip, or as wheels on an offline machine: docs/install.md#an-existing-environment.
# Exit status: the number of failed steps (0: all passed).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
OUT=$(mktemp -d "${TMPDIR:-/tmp}/minimax-gpu-check.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export MINIMAX_RUNS="$OUT/runs"
FAILED=0

step() {   # step NAME COMMAND...: run, time, count a failure
    local name=$1 t0 rc
    shift
    echo "== $name"
    t0=$(date +%s)
    "$@"
    rc=$?
    echo "== $name: $([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)") in $(( $(date +%s) - t0 )) s"
    [[ $rc == 0 ]] || FAILED=$((FAILED + 1))
}

versions() {
    "$PYTHON" -m minimax_cli.selfcheck --versions
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    return 0
}

step "versions" versions
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    CUDA=1
    DEVICE=cuda
    BENCH=(--device cuda --width 256 --batch 64 --steps 20 --warmup 3 --algos GDA-5,HessianFR-DG,HessianFR-CG1,LEAD-Adam)
    IMAGES=(game.synthetic_size=2048 game.batch.size=64 steps=200 log_every=50 game.metrics.fid_every=100
            game.metrics.fid.samples=2000 game.metrics.fid.real_samples=2000 game.metrics.fid.batch_size=100)
    MOG=(--algos fr,hessianfr --steps 5 --devices cpu,cuda)
    PRECISIONS=(fp32 tf32 bf16)
else
    CUDA=0
    DEVICE=cpu
    BENCH=(--device cpu --width 4 --batch 4 --steps 2 --warmup 1 --algos GDA-5 --threads 1)
    IMAGES=(game.synthetic_size=8 game.batch.size=4 steps=2 log_every=1 game.metrics.fid_every=2
            game.generator.latent_dim=8 game.generator.width=4 game.discriminator.width=4
            game.metrics.fid.samples=4 game.metrics.fid.real_samples=4 game.metrics.fid.batch_size=4 hardware.threads=1)
    MOG=(--algos fr --steps 2 --devices cpu,cpu -- game.generator.width=8 game.discriminator.width=8
         game.batch.dataset_size=64 game.batch.size=64 game.metrics.w1_samples=64 game.metrics.kl_samples=128
         game.metrics.mode_samples=128)
    PRECISIONS=(bf16)   # the autocast path; fp32 / tf32 differ from it only on a GPU
fi

# -p no:cacheprovider: a read-only checkout stays untouched
step "tests that use the GPU (tests/test_cuda.py)" \
    "$PYTHON" -m pytest -q -p no:xdist -p no:cacheprovider tests/test_cuda.py -rs
for precision in "${PRECISIONS[@]}"; do
    step "bench_images.py, hardware=$DEVICE, precision $precision" \
        "$PYTHON" -m scripts.bench_images "${BENCH[@]}" --precision "$precision"
done
image_run() {
    "$PYTHON" -m minimax_cli train game=cifar10 game.dataset=synthetic algo=gda algo.precond=adam \
        game.metrics.sample_every=0 game.metrics.fid.weights=random "${IMAGES[@]}" "hardware=$DEVICE" \
        progress=false tensorboard=false "hydra.run.dir=$OUT/images" || return
    "$PYTHON" - "$OUT/images/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
m = s["metrics"]
print(f"status {s['status']} at step {s['step']}, {s['wall_time_s']:.1f} s, FID {m['fid']:.2f} (untrained Inception), "
      f"its evaluation {m['fid_time_s']:.2f} s")
sys.exit(0 if s["status"] == "finished" else 1)
EOF
}
step "image GAN run with FID (weights=random), hardware=$DEVICE" image_run
step "1-D MoG GAN, FR and HessianFR, $DEVICE vs cpu, float64" \
    "$PYTHON" -m minimax_cli.selfcheck.devices "${MOG[@]}"

if [[ $CUDA == 0 ]]; then
    echo "gpu_check: no CUDA device, CPU-sized checks only: $FAILED failed step(s)"
else
    echo "gpu_check: $FAILED failed step(s)"
fi
exit "$FAILED"
