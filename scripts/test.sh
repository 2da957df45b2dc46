#!/usr/bin/env bash
# Quick start 2: set everything up (with the dev tools) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check vidcolor tests scripts
.venv/bin/ruff format --check vidcolor tests scripts
.venv/bin/mypy vidcolor
# Everything, slow tests included (plain pytest deselects them: pyproject.toml); a -m given
# here replaces this one.
.venv/bin/python -m pytest -m "slow or not slow" "$@"
