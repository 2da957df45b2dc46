#!/usr/bin/env bash
# The exact command that produced weights/vidcolor-default.safetensors from
# ../shared/data/colorize/train. Resumable: re-run the same command to continue.
# Every 10th image is held out (OUT/validation.txt) to choose the decoding temperature.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/colorize/train
OUT=${OUT:-/work/vidcolor-train/default-v2}
.venv/bin/vidcolor train "$DATA/imagenet_sample" "$DATA/bsds500_trainval" --out "$OUT" \
  --arch unet_resnet18 --loss bins --rebalance 1.0 --holdout-every 10 --crop 96 \
  --batch-size 16 --steps 2400 --warmup 100 --lr 1e-3 --seed 0 --checkpoint-every 100 \
  --export "$OUT/vidcolor-default.safetensors"
