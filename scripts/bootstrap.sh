#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install LesionSeg with the extras named in $1
# (comma-separated, e.g. "test,slicer"). Idempotent: a stamp file skips the pip work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${1:-}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

stamp="$VENV/.lesionseg-$(echo "${EXTRAS:-base}" | tr ',' '-')"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi

# torch: keep any torch the user already has (a GPU build, say); otherwise take the CPU wheel.
# An unpinned `torch` would pull several GB of CUDA packages.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "[bootstrap] installing torch==2.13.0 (CPU)"
  "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
fi

spec="."
[ -n "$EXTRAS" ] && spec=".[${EXTRAS}]"
echo "[bootstrap] pip install -e '$spec'"
"$VENV/bin/python" -m pip install --quiet -e "$spec"
touch "$stamp"
