# Shared by scripts/demo and scripts/test: create .venv (once) and install the project into it.
# Usage: source scripts/_venv.sh EXTRAS   (EXTRAS e.g. "", "test" or "jupyter,ui")
# Installing again is skipped while .venv holds this install of this pyproject.toml (a stamp per
# EXTRAS in .venv/); WORKBENCH_REINSTALL=1 installs anyway.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
extras=${1:-}
stamp=".venv/.workbench-installed${extras:+-${extras//,/-}}"
wanted=$(cat pyproject.toml workbench/_version.py | .venv/bin/python -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ "${WORKBENCH_REINSTALL:-0}" = 1 ] || [ ! -x .venv/bin/workbench ] \
  || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing workbench${extras:+[$extras]} into .venv (the first time: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
  echo "$wanted" >"$stamp"
fi
