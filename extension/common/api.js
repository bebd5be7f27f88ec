// The one place that picks the WebExtension namespace: Firefox's promise-based `browser`,
// else Chromium's `chrome` (promise-returning in MV3). Feature detection, never UA sniffing.
export const api = globalThis.browser ?? globalThis.chrome;
