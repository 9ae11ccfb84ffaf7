// The public /v1 API with the browser's API key in the Authorization header (never in a URL).
// 429 and 503 are waited out for their Retry-After and sent again; a message keeps its
// Idempotency-Key across tries, so the gateway runs it at most once (README, "API").

const RETRY_STATUSES = new Set([429, 503]);
const MAX_TRIES = 8;
const MAX_WAIT_S = 30;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  static async from(response) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { title: response.statusText };
    }
    return new ApiError(response.status, problem || {});
  }
}

// Seconds to wait from a Retry-After header (seconds or an HTTP date), bounded.
export function retryAfterSeconds(response, fallback = 1) {
  const value = response.headers.get("Retry-After");
  if (!value) return fallback;
  let seconds = Number(value);
  if (Number.isNaN(seconds)) seconds = (Date.parse(value) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return fallback;
  return Math.min(Math.max(seconds, 0.2), MAX_WAIT_S);
}

export function wait(seconds, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

export function newIdempotencyKey() {
  return `web_${crypto.randomUUID()}`;
}

export class Api {
  // onWait(seconds, why): the page says that it waits, and why.
  constructor(key, onWait = () => {}) {
    this.key = key;
    this.onWait = onWait;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  // One request, tried again on 429/503 (and on a lost connection when `retryNetwork`).
  async fetch(method, path, { body, headers = {}, signal, retryNetwork = false } = {}) {
    const init = {
      method,
      headers: this.headers({ Accept: "application/json", ...headers }),
      cache: "no-store",
      signal,
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await fetch(path, init);
      } catch (error) {
        if (!retryNetwork || signal?.aborted || attempt >= MAX_TRIES) throw error;
        const seconds = Math.min(0.5 * 2 ** (attempt - 1), 5);
        this.onWait(seconds, "the connection was lost");
        await wait(seconds, signal);
        continue;
      }
      if (RETRY_STATUSES.has(response.status) && attempt < MAX_TRIES) {
        const seconds = retryAfterSeconds(response);
        const problem = await ApiError.from(response);
        this.onWait(seconds, problem.message);
        await wait(seconds, signal);
        continue;
      }
      if (!response.ok) throw await ApiError.from(response);
      return response;
    }
  }

  async json(method, path, options) {
    const response = await this.fetch(method, path, options);
    if (response.status === 204) return null;
    return response.json();
  }

  // Any /v1 call answers 401 for a key it does not know; 405 or 404 mean the key passed.
  async checkKey() {
    try {
      await this.fetch("GET", "/v1/sessions?page_size=1");
      return true;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return true;
      throw error;
    }
  }

  listSessions(userId, pageToken) {
    const query = new URLSearchParams({ page_size: "30" });
    if (userId) query.set("user_id", userId);
    if (pageToken) query.set("page_token", pageToken);
    return this.json("GET", `/v1/sessions?${query}`);
  }

  createSession(userId) {
    const body = { user_id: userId || undefined };
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) body.timezone = zone;
    return this.json("POST", "/v1/sessions", { body, retryNetwork: true });
  }

  session(sid) {
    return this.json("GET", `/v1/sessions/${encodeURIComponent(sid)}`);
  }

  transcript(sid, { limit = 50, before } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    return this.json("GET", `/v1/sessions/${encodeURIComponent(sid)}/turns?${query}`);
  }

  sendMessage(sid, input, onBusy, idempotencyKey) {
    return this.json("POST", `/v1/sessions/${encodeURIComponent(sid)}/messages`, {
      body: { input, on_busy: onBusy },
      headers: { "Idempotency-Key": idempotencyKey },
      retryNetwork: true,
    });
  }

  cancelTurn(sid, turnId) {
    const path = `/v1/sessions/${encodeURIComponent(sid)}/turns/${encodeURIComponent(turnId)}/cancel`;
    return this.json("POST", path, { body: { reason: "stopped from the web page" } });
  }

  decide(sid, approvalId, approve) {
    const path = `/v1/sessions/${encodeURIComponent(sid)}/approvals/${encodeURIComponent(approvalId)}`;
    return this.json("POST", path, { body: { approve } });
  }
}
