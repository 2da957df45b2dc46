#!/usr/bin/env bash
# The exact commands that produced weights/vidcolor-default.safetensors from
# ../shared/data/colorize/train, and its evaluation. Resumable: re-run to continue training.
#  1. train without class rebalancing, every 10th image held out (OUT/validation.txt);
#  2. on those held-out images, choose the decoding (temperature, rebalancing at inference);
#  3. score the result on the held-out BSDS500 test split (the model card's table).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/colorize/train
TEST=../shared/data/colorize/heldout/bsds500_test
OUT=${OUT:-/work/vidcolor-train/default-v2}
.venv/bin/vidcolor train "$DATA/imagenet_sample" "$DATA/bsds500_trainval" --out "$OUT" \
  --arch unet_resnet18 --loss bins --rebalance 1.0 --holdout-every 10 --crop 96 \
  --batch-size 16 --steps 2400 --warmup 100 --lr 1e-3 --seed 0 --checkpoint-every 100 \
  --export "$OUT/vidcolor-default.safetensors"
.venv/bin/python scripts/tune_temperature.py "$OUT/vidcolor-default.safetensors" \
  --images "$OUT/validation.txt" --prior-from "$DATA" --report "$OUT/tune.json" \
  --write weights/vidcolor-default.safetensors
.venv/bin/vidcolor eval "$TEST" --weights weights/vidcolor-default.safetensors \
  --mean-ab-from "$DATA" --report weights/vidcolor-default.eval.json \
  --sheet docs/images/bsds500_test.png
