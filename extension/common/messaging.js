// How extension pages (popup, options) talk to the background: one call, one reply shape.
import { api } from "./api.js";

export class ActionError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Send `action` with `args` to the background's message table; resolves to the handler's data. */
export async function sendMessage(action, args = {}) {
  const reply = await api.runtime.sendMessage({ action, args });
  if (!reply) throw new ActionError("no_reply", "The Satchel background did not answer.");
  if (!reply.ok) throw new ActionError(reply.error?.code ?? "internal", reply.error?.message ?? "unknown error");
  return reply.data;
}
