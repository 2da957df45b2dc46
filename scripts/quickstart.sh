#!/usr/bin/env bash
# Quick start 1: set everything up, generate a sample film, colorize it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/vidcolor sample out/sample.mp4
.venv/bin/vidcolor run out/sample.mp4 -o out/sample.color.mp4 --overwrite
.venv/bin/vidcolor probe out/sample.color.mp4
