// Server-sent events over fetch: EventSource cannot send an Authorization header, so the page
// reads the stream itself, parses SSE, and resumes with Last-Event-ID after a dropped connection.

import { ApiError, retryAfterSeconds, wait } from "./api.js";

// A line-based SSE parser (the WHATWG rules: \r\n, \r or \n end a line; a blank line ends an
// event; `:` starts a comment). Each event is {type, data, id}; `id` is the event's own id, or
// null when it carried none (an end the gateway derived from the session's record).
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buffer += text;
    const ends = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = ends.exec(this.buffer)) !== null) {
      // A \r at the very end may be half of a \r\n split across chunks: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, match.index));
      start = ends.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }
}

// Bus ids are `ms-seq` (Redis stream ids): compare them as numbers.
export function compareIds(a, b) {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const major = BigInt(am) - BigInt(bm);
  if (major !== 0n) return major < 0n ? -1 : 1;
  const minor = BigInt(as) - BigInt(bs);
  return minor === 0n ? 0 : minor < 0n ? -1 : 1;
}

// With no byte for this long (the gateway pings every 15 s by default), the connection is
// taken for dead and opened again.
const SILENCE_S = 45;
const BACKOFF_S = [0.25, 0.5, 1, 2, 3, 5];

// A session's events, live, resumed by itself from the last id it passed on. `onEvent(event,
// payload)` gets each event once; `onState(state, detail)` hears "connecting", "live",
// "reconnecting", "ended" and "failed" (with the ApiError).
export class SessionStream {
  constructor({ api, sid, after = null, onEvent, onState, isEnded = async () => false }) {
    this.api = api;
    this.isEnded = isEnded;
    this.sid = sid;
    this.lastId = after;
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = new AbortController();
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    this.controller.abort();
  }

  async run() {
    for (let failures = 0; !this.stopped; ) {
      this.onState(failures ? "reconnecting" : "connecting");
      let outcome;
      try {
        outcome = await this.connect(() => (failures = 0));
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError) {
          if ([400, 401, 403, 404, 409].includes(error.status)) {
            this.onState(error.status === 409 ? "ended" : "failed", error);
            return;
          }
          outcome = { waitS: error.waitS };
        }
      }
      if (this.stopped) return;
      if (outcome?.ended || (outcome?.quiet && (await this.endedQuietly()))) {
        this.onState("ended");
        return;
      }
      failures += 1;
      this.onState("reconnecting");
      const backoff = BACKOFF_S[Math.min(failures - 1, BACKOFF_S.length - 1)];
      try {
        await wait(outcome?.waitS ?? backoff * (0.75 + Math.random() / 2), this.controller.signal);
      } catch {
        return;
      }
    }
  }

  // A stream that closed cleanly with nothing in it may be the replay of an ended session
  // whose log is gone (session.ended with it): ask the session.
  async endedQuietly() {
    try {
      return await this.isEnded();
    } catch {
      return false;
    }
  }

  // One connection: until it ends, drops, or goes silent. Resolves {ended} at session.ended.
  async connect(onLive) {
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    const path = `/v1/sessions/${encodeURIComponent(this.sid)}/events`;
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    this.controller.signal.addEventListener("abort", abort);
    try {
      const response = await fetch(path, { headers, cache: "no-store", signal: attempt.signal });
      if (!response.ok) {
        const error = await ApiError.from(response);
        if (response.status === 429 || response.status === 503) {
          error.waitS = retryAfterSeconds(response);
        }
        throw error;
      }
      this.onState("live");
      onLive();
      return await this.read(response.body, attempt);
    } finally {
      this.controller.signal.removeEventListener("abort", abort);
    }
  }

  async read(body, attempt) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let ended = false;
    let delivered = 0;
    let clean = false;
    const parser = new SseParser((event) => {
      if (ended) return;
      delivered += 1;
      ended = this.deliver(event);
    });
    let silence = setTimeout(() => attempt.abort(), SILENCE_S * 1000);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        clean = done;
        if (done || ended) break;
        clearTimeout(silence);
        silence = setTimeout(() => attempt.abort(), SILENCE_S * 1000);
        parser.push(value);
        if (ended) break;
      }
    } catch {
      // dropped or silent: the caller opens it again from the last id
    } finally {
      clearTimeout(silence);
      reader.cancel().catch(() => {});
    }
    return { ended, quiet: clean && delivered === 0 };
  }

  // Pass one event on, once; true when the session has ended.
  deliver(event) {
    if (event.id) {
      if (this.lastId && /^\d+(-\d+)?$/.test(this.lastId) && compareIds(event.id, this.lastId) <= 0) {
        return false; // already passed on before a reconnect
      }
      this.lastId = event.id;
    }
    let payload;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return false;
    }
    this.onEvent(event, payload);
    return event.type === "session.ended";
  }
}
