// Native host contract (see shared-schema/PROTOCOL.md). The host manifest name must match
// what `satchel install` writes.
export const HOST_APP = "org.satchel.vault";
// The protocol this extension speaks; the host's `hello` says the oldest client it serves.
export const CLIENT_PROTOCOL = 1;
// Oldest host protocol this extension can use.
export const MIN_HOST_PROTOCOL = 1;
export const UPGRADE_HINT =
  "Upgrade the Satchel host (`pipx upgrade satchel`, or `pip install -U satchel`), then run `satchel install`.";
export const INSTALL_HINT =
  "Install the Satchel host (`pipx install satchel`), then run `satchel install` and reload this extension.";
