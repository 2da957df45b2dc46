#!/usr/bin/env bash
# Quick start 2: set everything up (with the dev tools) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check vidcolor tests scripts
.venv/bin/ruff format --check vidcolor tests scripts
.venv/bin/mypy vidcolor
.venv/bin/python -m pytest "$@"
