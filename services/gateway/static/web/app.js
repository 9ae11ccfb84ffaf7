// The chat page: the API key, the session list, one open session (its transcript, its live
// stream, the message box, Stop and the approvals). Only the public /v1 API is used.

import { Api, ApiError, newIdempotencyKey } from "./api.js";
import { Conversation } from "./conversation.js";
import { SessionList } from "./sessions.js";
import { SessionStream } from "./sse.js";

const $ = (id) => document.getElementById(id);
const STORE = { key: "durable-agents.api-key", user: "durable-agents.user-id", onBusy: "durable-agents.on-busy" };
const DEFAULT_USER = "web";
const TERMINAL = new Set(["turn.completed", "turn.failed", "turn.cancelled"]);
const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
  ended: "Session ended",
};

const page = {
  api: null,
  sid: undefined, // the open session, null for a new chat not sent yet, undefined before start
  stream: null,
  conversation: null,
  ended: false,
  before: null, // the transcript's cursor to older turns
  opening: 0, // bumps on every open, so a slow answer for an older one is dropped
  transcriptTimer: null,
};

const sessions = new SessionList({ list: $("session-list"), note: $("sessions-note"), more: $("more-sessions") });

// -- the API key ---------------------------------------------------------------------------------

// `make dev` prints a link with `#key=...` (a fragment never goes to the server): keep the key,
// then take the fragment out of the address bar and the history.
function takeKeyFromFragment() {
  const fragment = location.hash.slice(1);
  if (!/(^|&)key=/.test(fragment)) return;
  const params = new URLSearchParams(fragment);
  if (params.get("key")) localStorage.setItem(STORE.key, params.get("key"));
  if (params.get("user")) localStorage.setItem(STORE.user, params.get("user"));
  history.replaceState(null, "", location.pathname + location.search);
}

const userId = () => localStorage.getItem(STORE.user) || DEFAULT_USER;

function askForKey(message = "") {
  const dialog = $("key-dialog");
  $("api-key").value = localStorage.getItem(STORE.key) || "";
  $("user-id").value = localStorage.getItem(STORE.user) || "";
  showKeyError(message);
  if (!dialog.open) dialog.showModal();
  $("api-key").focus();
}

function showKeyError(message) {
  $("key-error").textContent = message;
  $("key-error").hidden = !message;
}

function refusedKey(error) {
  const detail = error.problem?.detail ? ` ${error.problem.detail}` : "";
  return `This API key was not accepted (${error.status} ${error.problem?.title || "Unauthorized"}).${detail}`;
}

async function saveKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const user = $("user-id").value.trim();
  if (!key) return showKeyError("Enter an API key.");
  if (user && !$("user-id").checkValidity()) return showKeyError("A user id is letters, digits and _ . : - (up to 128).");
  $("key-save").disabled = true;
  showKeyError("");
  try {
    await new Api(key).checkKey();
  } catch (error) {
    showKeyError(error instanceof ApiError ? refusedKey(error) : `Could not reach the gateway: ${error.message}`);
    $("api-key").focus();
    return;
  } finally {
    $("key-save").disabled = false;
  }
  localStorage.setItem(STORE.key, key);
  if (user) localStorage.setItem(STORE.user, user);
  else localStorage.removeItem(STORE.user);
  $("key-dialog").close();
  page.sid = undefined; // a new key: open the session again with it
  start();
}

// Any call that meets a 401 (the key was changed on the server) asks for the key again.
function handleError(error, what) {
  if (error instanceof ApiError && error.status === 401) {
    askForKey(refusedKey(error));
    return;
  }
  showAlert(`${what}: ${error.message}`);
}

function showAlert(message) {
  $("alert").textContent = message;
  $("alert").hidden = !message;
}

// -- the page ------------------------------------------------------------------------------------

async function start() {
  page.api = new Api(localStorage.getItem(STORE.key), (seconds, why) =>
    showAlert(`The gateway is busy (${why}); trying again in ${Math.ceil(seconds)} s.`),
  );
  try {
    await page.api.checkKey();
  } catch (error) {
    return handleError(error, "Could not reach the gateway");
  }
  $("change-key").hidden = false;
  sessions.load = (token) => page.api.listSessions(userId(), token);
  sessions.refresh();
  route();
  document.body.dataset.ready = "true"; // for tests: the key is checked, the address followed
}

function route() {
  const match = /^#\/s\/([^/?#&]+)$/.exec(location.hash);
  const sid = match ? decodeURIComponent(match[1]) : null;
  if (sid === page.sid || !page.api) return; // start() follows the address once it has a key
  if (sid) openSession(sid);
  else openNewChat();
}

function closeSession() {
  page.stream?.stop();
  page.stream = null;
  clearTimeout(page.transcriptTimer);
  page.opening += 1;
  page.ended = false;
  page.before = null;
  showAlert("");
  setConnection("");
  page.conversation = new Conversation($("turns"), {
    onDecide: (approvalId, approve) => page.api.decide(page.sid, approvalId, approve),
    onChange: updateControls,
    onUnknownTurn: () => scheduleTranscript(),
  });
  page.conversation.clear();
}

function openNewChat() {
  closeSession();
  page.sid = null;
  sessions.mark(null);
  $("chat-title").textContent = "New chat";
  updateControls();
}

async function openSession(sid) {
  closeSession();
  const opening = page.opening;
  page.sid = sid;
  sessions.mark(sid);
  $("chat-title").textContent = sid;
  $("chat-status").textContent = "Loading…";
  let transcript;
  try {
    transcript = await page.api.transcript(sid);
  } catch (error) {
    if (opening !== page.opening) return;
    $("chat-status").textContent = "";
    if (error instanceof ApiError && error.status === 404) showAlert(`No session ${sid} for this API key.`);
    else handleError(error, "Could not load the conversation");
    return;
  }
  if (opening !== page.opening) return;
  $("chat-status").textContent = "";
  showOlderButton(transcript);
  page.conversation.merge(transcript.turns || []);
  // The whole replay log: it draws the turns still going, from their first event.
  openStream(sid, "0");
}

function showOlderButton(transcript) {
  page.before = transcript.next_before || null;
  const turns = transcript.turns || [];
  if (page.before && turns.length) page.conversation.oldest = turns[0].created_at;
  $("earlier-turns").hidden = !page.before;
}

async function loadOlderTurns() {
  if (!page.before || !page.sid) return;
  try {
    const transcript = await page.api.transcript(page.sid, { before: page.before });
    showOlderButton(transcript);
    page.conversation.merge(transcript.turns || [], { older: true });
  } catch (error) {
    handleError(error, "Could not load earlier turns");
  }
}

// The transcript again, a moment after something asked for it: the input of a turn another
// tab sent, or turns whose events were lost (stream.gap).
function scheduleTranscript(delayMs = 250) {
  clearTimeout(page.transcriptTimer);
  const sid = page.sid;
  const opening = page.opening;
  page.transcriptTimer = setTimeout(async () => {
    try {
      const transcript = await page.api.transcript(sid);
      if (opening === page.opening) page.conversation.merge(transcript.turns || []);
    } catch (error) {
      if (opening === page.opening) handleError(error, "Could not refresh the conversation");
    }
  }, delayMs);
}

// -- the live stream -----------------------------------------------------------------------------

function openStream(sid, after) {
  const opening = page.opening;
  page.stream = new SessionStream({
    api: page.api,
    sid,
    after,
    onEvent: (event, data) => opening === page.opening && onEvent(event, data),
    onState: (state, error) => opening === page.opening && onStreamState(state, error),
    isEnded: async () => (await page.api.session(sid)).state === "ended",
  });
  page.stream.run();
}

function onEvent(event, data) {
  const conversation = page.conversation;
  if (event.type === "session.ended") return markEnded();
  if (event.type === "stream.gap") {
    // Events were lost: what they would have drawn comes from the transcript instead.
    for (const turn of conversation.active) turn.gapped = true;
    if (data.turn_id && conversation.turns.has(data.turn_id)) conversation.turns.get(data.turn_id).gapped = true;
    scheduleTranscript(0);
    return;
  }
  conversation.apply(event.type, data, event.id);
  if (TERMINAL.has(event.type)) {
    if (conversation.turns.get(data.turn_id)?.gapped) scheduleTranscript(0);
    sessions.refresh(); // a first turn gives the session its title
  }
}

function onStreamState(state, error) {
  if (state === "failed") {
    setConnection("");
    if (error?.status === 404) showAlert(`No session ${page.sid} for this API key.`);
    else handleError(error, "The live stream stopped");
    return;
  }
  if (state === "ended") return markEnded();
  setConnection(state);
}

function setConnection(state) {
  const node = $("connection");
  node.textContent = CONNECTION_TEXT[state] ?? "";
  node.dataset.state = state;
}

function markEnded() {
  page.ended = true;
  page.stream?.stop();
  setConnection("ended");
  updateControls();
}

// -- sending, stopping ---------------------------------------------------------------------------

async function send(event) {
  event.preventDefault();
  const box = $("message");
  const text = box.value;
  if (!text.trim() || page.ended) return;
  const onBusy = document.querySelector("input[name=on_busy]:checked")?.value || "enqueue";
  box.value = "";
  showAlert("");
  if (!page.sid) {
    try {
      await startSession(text.replace(/\s+/g, " ").trim().slice(0, 80));
    } catch (error) {
      box.value = text;
      return handleError(error, "Could not start a chat");
    }
  }
  const sid = page.sid;
  const turn = page.conversation.sent(text);
  try {
    const receipt = await page.api.sendMessage(sid, text, onBusy, newIdempotencyKey());
    if (sid === page.sid) page.conversation.attach(turn, receipt);
    showAlert("");
  } catch (error) {
    if (sid !== page.sid) return;
    page.conversation.unsent(turn, error.message);
    if (!box.value) box.value = text;
    handleError(error, "The message was not sent");
  }
}

// A new chat becomes a session at its first message.
async function startSession(title) {
  const created = await page.api.createSession(userId());
  page.sid = created.session_id;
  history.pushState(null, "", `#/s/${encodeURIComponent(page.sid)}`);
  $("chat-title").textContent = page.sid;
  sessions.mark(page.sid);
  openStream(page.sid, "0");
  // The list comes from Temporal's visibility, a moment behind: show the new chat at once.
  sessions.add({ ...created, title, created_at: new Date().toISOString(), status: "active" });
}

async function stop() {
  const conversation = page.conversation;
  const turn = conversation.running ?? conversation.active.find((item) => item.id);
  if (!turn?.id) return;
  $("stop").disabled = true;
  try {
    await page.api.cancelTurn(page.sid, turn.id);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) handleError(error, "Could not stop the reply");
  } finally {
    $("stop").disabled = false;
  }
}

function updateControls() {
  const conversation = page.conversation;
  const hasTurns = conversation.list.childElementCount > 0;
  $("empty-hint").hidden = hasTurns;
  const stopHidden = page.ended || !conversation.active.some((turn) => turn.id);
  if (stopHidden && document.activeElement === $("stop")) $("message").focus();
  $("stop").hidden = stopHidden;
  $("send").disabled = page.ended;
  $("message").disabled = page.ended;
  $("chat-status").textContent = page.ended ? "This session has ended." : conversation.busy ? "Answering" : "";
  const first = [...conversation.turns.values()][0];
  if (page.sid && first?.input) $("chat-title").textContent = first.input.slice(0, 80);
}

// -- wiring --------------------------------------------------------------------------------------

function onMessageKey(event) {
  // Enter sends, Shift+Enter is a new line; an IME composing text keeps its Enter.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

function toggleSessions(open) {
  const nav = $("sessions");
  const show = open ?? !nav.classList.contains("open");
  nav.classList.toggle("open", show);
  $("toggle-sessions").setAttribute("aria-expanded", String(show));
}

// The conversation follows the reply as it grows, unless the reader scrolled up to read.
function followReplies() {
  const chat = $("chat");
  let atBottom = true;
  chat.addEventListener("scroll", () => {
    atBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 48;
  });
  new MutationObserver(() => {
    if (atBottom) chat.scrollTop = chat.scrollHeight;
  }).observe($("turns"), { childList: true, subtree: true, characterData: true });
}

function rememberBusyChoice() {
  const saved = localStorage.getItem(STORE.onBusy);
  const radio = document.querySelector(`input[name=on_busy][value="${saved}"]`);
  if (radio) radio.checked = true;
  for (const input of document.querySelectorAll("input[name=on_busy]")) {
    input.addEventListener("change", () => localStorage.setItem(STORE.onBusy, input.value));
  }
}

function main() {
  takeKeyFromFragment();
  $("key-form").addEventListener("submit", saveKey);
  $("key-dialog").addEventListener("cancel", (event) => {
    if (!localStorage.getItem(STORE.key)) event.preventDefault(); // no page without a key
  });
  $("change-key").addEventListener("click", () => askForKey());
  $("composer").addEventListener("submit", send);
  $("message").addEventListener("keydown", onMessageKey);
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", () => {
    toggleSessions(false);
    if (location.hash) history.pushState(null, "", location.pathname);
    page.sid = undefined;
    route();
    $("message").focus();
  });
  $("earlier-turns").addEventListener("click", loadOlderTurns);
  // The skip link moves the focus itself: a `#message` in the address would lose the session's.
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("message").focus();
  });
  $("toggle-sessions").addEventListener("click", () => toggleSessions());
  $("session-list").addEventListener("click", (event) => event.target.closest("a") && toggleSessions(false));
  window.addEventListener("hashchange", route);
  window.addEventListener("popstate", route);
  rememberBusyChoice();
  followReplies();
  closeSession();
  updateControls();
  if (localStorage.getItem(STORE.key)) start();
  else askForKey();
}

main();
