# Shared by scripts/demo and scripts/test: create .venv (once) and install the project into it.
# Usage: source scripts/_venv.sh EXTRAS   (EXTRAS e.g. "" or "test")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
extras=${1:-}
.venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
