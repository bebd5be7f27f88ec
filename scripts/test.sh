#!/usr/bin/env bash
# Set up everything the tests need (Debian's Firefox ESR and Chromium, the Python package with its test
# extras, the npm dev tools), build the extension, then run the whole suite.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_system_packages firefox-esr chromium xvfb
install_python "test"
install_node_tools
echo "==> browsers: $(firefox-esr --version 2>/dev/null) / $(chromium --version 2>/dev/null)"
echo "==> build"
"$PY" "$ROOT/build.py"
echo "==> lint"
"$VENV/bin/ruff" check "$ROOT/host" "$ROOT/tests" "$ROOT/bench" "$ROOT/build.py"
echo "==> pytest"
cd "$ROOT"
exec "$PY" -m pytest "$@"
