# Install the Debian packages listed in scripts/apt-packages.txt that are missing (CI runs as
# root on Debian; elsewhere, install them yourself or the tests that need them say so).
set -euo pipefail
packages=$(grep -vE '^\s*(#|$)' "$(dirname "${BASH_SOURCE[0]}")/apt-packages.txt" || true)
missing=()
for package in $packages; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing Debian packages (${missing[*]}); run: sudo apt-get install ${missing[*]}" >&2
  fi
fi
