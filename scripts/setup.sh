#!/usr/bin/env bash
# Creates .venv (if missing) and installs vidcolor into it, with the CPU build of PyTorch
# pinned by constraints-cpu.txt. Pass extras as the first argument, e.g. "dev".
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install --quiet -c constraints-cpu.txt -e "$spec"
