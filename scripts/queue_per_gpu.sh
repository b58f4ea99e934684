#!/usr/bin/env bash
# Start one DVC queue worker per GPU, each seeing only its own GPU (worker k gets GPU k-1).
#   scripts/queue_per_gpu.sh [N]    N defaults to the number of GPUs nvidia-smi lists
# `dvc queue start -j k` starts only the workers among 1..k that are not running yet, and a
# worker inherits the environment of the command that started it: so each call below adds
# exactly one worker, with its own CUDA_VISIBLE_DEVICES.
set -euo pipefail
count=${1:-$(nvidia-smi --list-gpus | wc -l)}
for ((gpu = 0; gpu < count; gpu++)); do
  CUDA_VISIBLE_DEVICES=$gpu dvc queue start -j $((gpu + 1))
done
