#!/usr/bin/env bash
# Issue 16: the training run of the v2 default weights, on all five sets of
# ../shared/data/colorize/train (never heldout/ or media/). Plan: several sessions of 2-core CPU.
#   - sets weighed by the square root of their size (15/8/30/36/11%), every 10th image of the
#     folders' concatenation held out (RUN/validation.txt) for the decoding, temperature and
#     checkpoint choices; imagenet_sample and bsds500_trainval come first, as in v1's run, so
#     v1's 124 validation images stay validation images (v1 never trained on them);
#   - warm start from the v1 weights (trained on train/ only), the hint channels of the stem
#     at zero; hints sampled from the truth (half the samples none), film-like input defects;
#   - progressive resizing: 96 px x 16 to step 8000, 160 px x 8 to 12000, 224 px x 4 to 15000;
#   - a checkpoint every 4 minutes and 500 steps, weights kept every 1000 steps (snapshots/).
# Start:    bash scripts/train_v2.sh            (in the background: see below)
# Resume:   bash scripts/train_v2.sh            (the same; or: vidcolor train --resume "$RUN")
# Progress: tail "$RUN/progress.log"; loss curve: python scripts/plot_loss.py "$RUN" loss.png
#
# The run that was started for issue 16 (from the repository root, so that it imports this
# checkout's code):
#   mkdir -p ~/.cache/vidcolor/train/v2
#   nohup setsid nice -n 19 env OMP_NUM_THREADS=2 bash scripts/train_v2.sh \
#     >> ~/.cache/vidcolor/train/v2/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/colorize/train}
RUN=${RUN:-$HOME/.cache/vidcolor/train/v2}
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's vidcolor
if [ -f "$RUN/checkpoint.pt" ]; then
  exec "$PYTHON" -m vidcolor.cli train --resume "$RUN" --export "$RUN/vidcolor-v2.safetensors"
fi
exec "$PYTHON" -m vidcolor.cli train \
  "$DATA/imagenet_sample" "$DATA/bsds500_trainval" "$DATA/coco_okidli" "$DATA/intel_scenes" \
  "$DATA/street_frames" --out "$RUN" \
  --arch unet_resnet18 --loss bins --rebalance 1.0 --holdout-every 10 --set-weighting sqrt \
  --hints --film --init "$PWD/weights/vidcolor-default.safetensors" \
  --schedule 0:96:16,8000:160:8,12000:224:4 --steps 15000 --warmup 200 --lr 5e-4 --seed 0 \
  --checkpoint-every 500 --checkpoint-minutes 4 --snapshot-every 1000 \
  --export "$RUN/vidcolor-v2.safetensors"
