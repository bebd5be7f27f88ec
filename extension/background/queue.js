// Captures wait here until the host acknowledges them. The queue lives in storage.local so it
// survives a worker restart, a host crash and a browser restart; an item is removed only after
// the host's reply, so a capture is delivered at least once (the host's content hashes make a
// repeat harmless).
import { api } from "../common/api.js";

const QUEUE_KEY = "captureQueue";
const STATS_KEY = "captureStats";

// Errors that no retry will fix: the item is dropped (and counted) instead of blocking the queue.
const PERMANENT = new Set(["bad_frame", "too_large", "bad_request", "unknown_action", "invalid_params", "forbidden"]);

export class CaptureQueue {
  constructor({ send, onChange = () => {} }) {
    this.send = send; // async (payload) -> data ; throws HostError
    this.onChange = onChange;
    this.lock = Promise.resolve();
    this.flushing = null;
    this.inFlight = null; // qid of the item being sent; never merged into
  }

  // storage.local has no transactions: serialise our own read-modify-write cycles.
  _locked(fn) {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  async items() {
    return (await api.storage.local.get(QUEUE_KEY))[QUEUE_KEY] ?? [];
  }

  async stats() {
    const stored = (await api.storage.local.get(STATS_KEY))[STATS_KEY] ?? {};
    return { delivered: 0, dropped: 0, lastDeliveredAt: null, lastError: null, ...stored };
  }

  async _bumpStats(counts, values = {}) {
    const s = await this.stats();
    for (const [k, n] of Object.entries(counts)) s[k] = (s[k] ?? 0) + n;
    await api.storage.local.set({ [STATS_KEY]: { ...s, ...values } });
  }

  async length() {
    return (await this.items()).length;
  }

  /** Persist a capture; resolves once it is safely stored (not yet delivered). */
  enqueue(payload) {
    return this._locked(async () => {
      const items = await this.items();
      const key = `${payload.conversation.provider}\u0000${payload.conversation.id}`;
      // Merge into the newest waiting item of the same conversation unless it is on the wire. Only when
      // every message carries the site's id: the host places an id-less turn by its neighbours, so
      // those snapshots are kept whole, in order.
      const last = items[items.length - 1];
      const allIds = (p) => p.messages.every((m) => m.id);
      if (last && last.key === key && last.qid !== this.inFlight && allIds(last.payload) && allIds(payload)) {
        last.payload = mergePayloads(last.payload, payload);
      } else {
        items.push({ qid: crypto.randomUUID(), key, queuedAt: Date.now(), payload });
      }
      await api.storage.local.set({ [QUEUE_KEY]: items });
      this.onChange(items.length);
      return items.length;
    });
  }

  /**
   * Deliver queued captures in order until the queue is empty or the host fails.
   * Resolves to {delivered, remaining, error}.
   */
  flush() {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      let delivered = 0;
      let error = null;
      for (;;) {
        // Marking the head in-flight under the lock keeps enqueue() from merging into it.
        const head = await this._locked(async () => {
          const first = (await this.items())[0];
          this.inFlight = first?.qid ?? null;
          return first;
        });
        if (!head) break;
        try {
          await this.send(head.payload);
          delivered += 1;
        } catch (e) {
          if (!PERMANENT.has(e?.code)) {
            error = e;
            this.inFlight = null;
            break;
          }
          await this._bumpStats({ dropped: 1 }, { lastError: `${e.code}: ${e.message}` });
        }
        await this._locked(async () => {
          const items = (await this.items()).filter((it) => it.qid !== head.qid);
          this.inFlight = null;
          await api.storage.local.set({ [QUEUE_KEY]: items });
          this.onChange(items.length);
        });
      }
      if (delivered) await this._bumpStats({ delivered }, { lastDeliveredAt: Date.now() });
      return { delivered, remaining: await this.length(), error };
    })();
    const done = this.flushing;
    done.finally(() => {
      if (this.flushing === done) this.flushing = null;
    });
    return done;
  }
}

/** Later text of the same message (same site id) wins; order of first appearance is kept. */
export function mergePayloads(older, newer) {
  const byKey = new Map();
  for (const m of older.messages) byKey.set(m.id, m);
  for (const m of newer.messages) byKey.set(m.id, m);
  return { conversation: { ...older.conversation, ...newer.conversation }, messages: [...byKey.values()] };
}
