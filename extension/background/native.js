// The one native client: a single persistent port to the Satchel host, each reply matched to
// its request by id, a per-request timeout that rejects with a typed error instead of hanging,
// a full reset on disconnect and reconnection with backoff.
import { api } from "../common/api.js";
import { CLIENT_PROTOCOL, HOST_APP, INSTALL_HINT, MIN_HOST_PROTOCOL, UPGRADE_HINT } from "../common/protocol.js";

export class HostError extends Error {
  /** code: the host's error code, or one of host_unavailable / host_timeout / host_incompatible. */
  constructor(code, message) {
    super(message);
    this.name = "HostError";
    this.code = code;
  }
}

const DEFAULT_TIMEOUT_MS = 15000;
const HELLO_TIMEOUT_MS = 8000;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];

export class NativeClient {
  constructor({ appName = HOST_APP, onStateChange = () => {} } = {}) {
    this.appName = appName;
    this.onStateChange = onStateChange;
    this.port = null;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.seq = 0;
    this.state = "disconnected"; // disconnected | connecting | ready | incompatible | unavailable
    this.lastError = null;
    this.hello = null;
    this.ready = null; // promise of the current connection's hello
    this.attempt = 0;
    this.reconnectTimer = null;
    this.roundTrips = []; // recent round-trip times in ms, for diagnostics
  }

  _setState(state, error = null) {
    this.state = state;
    this.lastError = error;
    try {
      this.onStateChange(this.status());
    } catch (e) {
      console.warn("satchel: state listener failed", e);
    }
  }

  status() {
    const rt = [...this.roundTrips].sort((a, b) => a - b);
    return {
      state: this.state,
      error: this.lastError,
      hello: this.hello,
      pending: this.pending.size,
      roundTripMedianMs: rt.length ? rt[Math.floor(rt.length / 2)] : null,
      reconnect: { attempts: this.attempt, scheduled: !!this.reconnectTimer },
    };
  }

  /** Resolve once a compatible host has answered `hello`; reject with HostError otherwise. */
  connect() {
    if (this.ready && (this.state === "ready" || this.state === "connecting")) return this.ready;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this._setState("connecting");
    let port;
    try {
      port = api.runtime.connectNative(this.appName);
    } catch (e) {
      const err = new HostError("host_unavailable", `${e?.message ?? e}. ${INSTALL_HINT}`);
      this._setState("unavailable", err.message);
      this.ready = Promise.reject(err);
      this.ready.catch(() => {});
      return this.ready;
    }
    this.port = port;
    port.onMessage.addListener((msg) => this._onMessage(port, msg));
    port.onDisconnect.addListener((p) => this._onDisconnect(port, p));
    this.ready = this._handshake(port);
    this.ready.catch(() => {});
    return this.ready;
  }

  async _handshake(port) {
    let hello;
    try {
      hello = await this._send(port, "hello", { client: "extension", client_protocol: CLIENT_PROTOCOL }, HELLO_TIMEOUT_MS);
    } catch (e) {
      if (this.port === port) this._drop(port, e.code === "host_timeout" ? e.message : undefined);
      throw e instanceof HostError ? e : new HostError("host_unavailable", String(e?.message ?? e));
    }
    this.hello = hello;
    const hostProto = Number(hello?.protocol_version ?? 0);
    const minClient = Number(hello?.min_client_protocol ?? 0);
    if (hostProto < MIN_HOST_PROTOCOL) {
      const msg = `The Satchel host (${hello?.host_version ?? "unknown version"}, protocol ${hostProto}) is too old for this extension (needs protocol ${MIN_HOST_PROTOCOL}). ${UPGRADE_HINT}`;
      this._setState("incompatible", msg);
      throw new HostError("host_incompatible", msg);
    }
    if (minClient > CLIENT_PROTOCOL) {
      const msg = `This Satchel extension (protocol ${CLIENT_PROTOCOL}) is older than the host requires (${minClient}). Update the extension from your browser's add-ons page.`;
      this._setState("incompatible", msg);
      throw new HostError("host_incompatible", msg);
    }
    this.attempt = 0;
    this._setState("ready");
    return hello;
  }

  _send(port, type, params, timeoutMs) {
    const id = `${Date.now().toString(36)}-${++this.seq}`;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HostError("host_timeout", `The Satchel host did not answer "${type}" within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, type, started });
      try {
        port.postMessage({ id, type, params });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new HostError("host_unavailable", `Could not reach the Satchel host: ${e?.message ?? e}`));
      }
    });
  }

  /** Call a host action; resolves to its `data`, rejects with HostError. */
  async call(type, params = {}, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    if (this.state !== "ready" || !this.port) await this.connect();
    return this._send(this.port, type, params, timeoutMs);
  }

  _onMessage(port, msg) {
    if (port !== this.port || !msg || typeof msg !== "object") return;
    const entry = this.pending.get(msg.id);
    if (!entry) return; // a reply to a request that already timed out
    this.pending.delete(msg.id);
    clearTimeout(entry.timer);
    this.roundTrips.push(performance.now() - entry.started);
    if (this.roundTrips.length > 50) this.roundTrips.shift();
    if (msg.ok) entry.resolve(msg.data ?? {});
    else entry.reject(new HostError(msg.error?.code ?? "internal", msg.error?.message ?? "The host reported an error."));
  }

  _onDisconnect(port, p) {
    if (port !== this.port) return;
    const reason = api.runtime.lastError?.message ?? p?.error?.message ?? "the host exited";
    this._drop(port, reason);
  }

  _drop(port, reason) {
    try {
      port.disconnect();
    } catch {
      /* already gone */
    }
    if (this.port === port) this.port = null;
    const wasIncompatible = this.state === "incompatible";
    const err = new HostError("host_unavailable", `The Satchel host is not reachable (${reason}). ${INSTALL_HINT}`);
    for (const [, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.pending.clear();
    this.ready = null;
    if (!wasIncompatible) this._setState("unavailable", err.message);
  }

  /** Try again later, with backoff; the caller decides whether there is a reason to. */
  scheduleReconnect(onReady) {
    if (this.reconnectTimer || this.state === "ready") return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = null;
      try {
        // Another caller may already be connecting: share its attempt instead of racing it.
        await (this.state === "connecting" && this.ready ? this.ready : this.connect());
        onReady?.();
      } catch {
        this.scheduleReconnect(onReady);
      }
    }, delay);
  }

  /** Drop the connection and start over (diagnostics button, tests). */
  reset() {
    if (this.port) this._drop(this.port, "reset");
    this.attempt = 0;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
