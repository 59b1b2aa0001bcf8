#!/usr/bin/env bash
# Build the single-file Linux binary with PyInstaller into dist/claude-tray (work files in build/),
# then check that it starts: `dist/claude-tray --version`.
#   packaging/build-binary.sh            # uses .venv/bin/python, or $PYTHON
# Needs pyinstaller in that Python (pip install pyinstaller).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
cd "$ROOT"
"$PYTHON" -m PyInstaller --version >/dev/null 2>&1 || { echo "build-binary: PyInstaller is not installed in $PYTHON (pip install pyinstaller)" >&2; exit 2; }
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
  "$ROOT/packaging/claude-tray.spec"
echo "build-binary: built dist/claude-tray in $(( $(date +%s) - start ))s ($(du -h dist/claude-tray | cut -f1))"
"$ROOT/dist/claude-tray" --version
