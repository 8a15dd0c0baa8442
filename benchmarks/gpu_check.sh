#!/usr/bin/env bash
# The GPU path in one script, under 8 minutes on one GPU: the GPU-marked tests (pytest -m gpu), then
# the throughput benchmark's usual command (every model and row, SmolLM2 first, and a profile of
# one SmolLM2 update) on CUDA. Writes into $OUT when set, else runs/gpu:
#   gpu_tests.txt, throughput_gpu.json/.md/.profile.txt, throughput_gpu.log, nvidia_smi.txt
# Usage, from the repository root or anywhere:  bash benchmarks/gpu_check.sh
# Every step has its own time limit; the script exits non-zero when a step failed or ran out of time.
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir="${OUT:-runs/gpu}"
mkdir -p "$out_dir"
# From a checkout that is not pip-installed, dialog_envs.agents is the agents/ folder (a git-ignored link).
python -c "import dialog_envs.agents" 2>/dev/null || ln -sfn ../agents dialog_envs/agents

if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device visible to torch; this script checks the GPU path" >&2
    exit 2
fi
nvidia-smi > "$out_dir/nvidia_smi.txt" 2>&1 || true

failed=0
echo "gpu_check: GPU-marked tests ..." >&2
timeout 180 python -m pytest -q -p no:cacheprovider -m gpu tests/ 2>&1 | tee "$out_dir/gpu_tests.txt" || failed=1

# SmolLM2 first: the JSON is rewritten after each model, so a run cut by the time limit keeps them.
echo "gpu_check: throughput (SmolLM2 LoRA, SmolLM2 all weights, tiny; profile) ..." >&2
timeout 270 python -m benchmarks.throughput --device cuda --models smollm2-lora,smollm2-full,tiny --profile \
    --out "$out_dir/throughput_gpu.json" \
    > "$out_dir/throughput_gpu.stdout" 2> "$out_dir/throughput_gpu.log" || failed=1
tail -n 40 "$out_dir/throughput_gpu.log" >&2
[ -f "$out_dir/throughput_gpu.md" ] && cat "$out_dir/throughput_gpu.md"

exit "$failed"
