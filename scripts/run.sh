#!/usr/bin/env bash
# Install Satchel (host + extension), register it with every browser, and open Firefox on a fresh profile
# with Satchel loaded. Where there is no display, prints how to load it into your own browsers instead.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_system_packages firefox-esr
install_python ""
echo "==> build the extension"
"$PY" "$ROOT/build.py"
echo "==> register the native host with Firefox, Chrome, Chromium, Brave and Edge"
"$VENV/bin/satchel" install
"$VENV/bin/satchel" doctor --browser firefox || true

# A fresh profile that sideloads the unpacked add-on (Firefox ESR honours unsigned add-ons with this pref).
PROFILE="$(mktemp -d "${TMPDIR:-/tmp}/satchel-firefox-XXXXXX")"
GECKO_ID="$("$PY" -c 'from satchel.native.install import FIREFOX_EXTENSION_ID as i; print(i)')"
mkdir -p "$PROFILE/extensions"
printf '%s' "$ROOT/dist/firefox" > "$PROFILE/extensions/$GECKO_ID"
cat > "$PROFILE/user.js" <<'PREFS'
user_pref("xpinstall.signatures.required", false);
user_pref("extensions.autoDisableScopes", 0);
user_pref("extensions.enabledScopes", 15);
user_pref("browser.shell.checkDefaultBrowser", false);
PREFS
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cat <<MSG

Satchel is installed: host registered, extension built in $ROOT/dist/.
There is no display here, so Firefox was not opened. On a desktop, run:
  firefox-esr -no-remote -profile "$PROFILE"      (a fresh profile with Satchel loaded)
or load it into your own browsers as the README says (Firefox: about:debugging → Load Temporary Add-on →
dist/firefox/manifest.json; Chrome/Chromium/Brave/Edge: chrome://extensions → Developer mode → Load unpacked →
dist/chromium).
MSG
  exit 0
fi
echo "==> opening Firefox (profile $PROFILE)"
exec firefox-esr -no-remote -profile "$PROFILE" https://chatgpt.com/
