# Shared by run.sh and test.sh: install what Satchel needs on a Debian/Ubuntu machine, idempotently.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SATCHEL_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_system_packages() {
  local wanted=("$@") missing=()
  for pkg in "${wanted[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
      echo "Please install: ${missing[*]} (this script knows apt-get only)" >&2; return 1
    fi
    echo "==> apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_python() {
  local extras="${1:-}" target="$ROOT"
  [ -n "$extras" ] && target="$ROOT[$extras]"
  if [ ! -x "$PY" ]; then
    echo "==> python venv at $VENV"
    python3 -m venv "$VENV" 2>/dev/null || { install_system_packages python3-venv; python3 -m venv "$VENV"; }
  fi
  echo "==> pip install -e $target"
  "$PY" -m pip install -q --upgrade pip >/dev/null
  "$PY" -m pip install -q -e "$target"
}

install_node_tools() {
  command -v npm >/dev/null || install_system_packages nodejs npm
  echo "==> npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
}
