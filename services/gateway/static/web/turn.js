// One turn of the conversation on the page: the user's message and the reply as it streams
// (text, the answering agent and its handoffs as chips, tool and approval cards, the outcome).
// A turn is drawn either from the session's events (live or replayed) or, once finished, from
// the transcript; it never mixes the two, so no text is shown twice.

import { renderMarkdown } from "./markdown.js";

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name === "data") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function pretty(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const STATUS_TEXT = {
  queued: "Queued",
  running: "Answering…",
  completed: "",
  failed: "Failed",
  cancelled: "Stopped",
};

export class Turn {
  constructor(id, { onDecide }) {
    this.id = id;
    this.onDecide = onDecide;
    this.status = "queued";
    this.input = null;
    this.fromTranscript = false;
    this.gapped = false; // events of this turn were lost: redraw it from the transcript at its end
    this.textBlocks = [];
    this.blocks = []; // text blocks and cards, in order
    this.stepStart = 0; // blocks before this index belong to earlier steps (turn.retry)
    this.current = null; // the text block deltas go to
    this.cards = new Map(); // call_id -> tool card
    this.approvals = new Map(); // approval_id -> approval card
    this.build();
  }

  build() {
    this.userText = el("p", { class: "user-text" });
    this.agentChip = el("span", { class: "chip agent", hidden: true });
    this.chips = el("div", { class: "chips" }, this.agentChip);
    this.body = el("div", { class: "reply-body" });
    this.statusLine = el("p", { class: "turn-status" });
    this.reply = el("article", { class: "reply", "aria-label": "Reply" }, this.chips, this.body, this.statusLine);
    this.node = el(
      "li",
      { class: "turn", data: { turnId: this.id ?? "", status: this.status } },
      el("div", { class: "user" }, el("span", { class: "who" }, "You"), this.userText),
      this.reply,
    );
  }

  get finished() {
    return FINISHED.has(this.status);
  }

  setId(id) {
    this.id = id;
    this.node.dataset.turnId = id;
  }

  setInput(text) {
    this.input = text;
    this.userText.textContent = text ?? "…";
  }

  setStatus(status, note = "") {
    if (FINISHED.has(status)) this.flush();
    this.status = status;
    this.node.dataset.status = status;
    this.statusLine.textContent = note || STATUS_TEXT[status] || "";
    this.statusLine.className = `turn-status ${status}`;
  }

  setAgent(name) {
    if (!name) return;
    this.agentChip.textContent = name;
    this.agentChip.title = "the answering agent";
    this.agentChip.hidden = false;
  }

  chip(text, kind, title = "") {
    this.chips.append(el("span", { class: `chip ${kind}`, title }, text));
  }

  // -- drawn from the transcript ---------------------------------------------------------------

  drawRecord(record) {
    this.fromTranscript = true;
    this.gapped = false;
    this.body.replaceChildren();
    this.blocks = [];
    this.textBlocks = [];
    this.cards.clear();
    this.current = null;
    this.chips.replaceChildren(this.agentChip);
    this.setInput(record.input);
    this.setAgent(record.agent);
    for (const call of record.tool_calls || []) {
      const card = this.toolCard(call.name, call.arguments);
      this.finishToolCard(card, call.error ?? call.result, Boolean(call.error));
    }
    if (record.output) this.appendText(record.output);
    const note = record.status === "failed" ? `Failed: ${record.error?.message ?? "error"}` : "";
    this.setStatus(record.status, note);
  }

  // -- drawn from events -----------------------------------------------------------------------

  apply(type, data) {
    const handler = HANDLERS[type];
    if (handler) handler(this, data);
  }

  appendText(text) {
    if (!this.current) {
      const node = el("div", { class: "reply-text" });
      this.current = { raw: "", node, drawn: false };
      this.blocks.push(this.current);
      this.textBlocks.push(this.current);
      this.body.append(node);
    }
    this.current.raw += text;
    this.scheduleDraw(this.current);
  }

  scheduleDraw(block) {
    // One markdown pass per frame, however many deltas came in it; a hidden tab gets no
    // frames, so it draws at once.
    if (document.visibilityState === "hidden") return this.draw(block);
    if (block.pending) return;
    block.pending = true;
    requestAnimationFrame(() => block.pending && this.draw(block));
  }

  draw(block) {
    block.pending = false;
    renderMarkdown(block.raw, block.node);
  }

  // Draw what waits for a frame, so the turn's end never shows before its text.
  flush() {
    for (const block of this.textBlocks) if (block.pending) this.draw(block);
  }

  get text() {
    return this.textBlocks.map((block) => block.raw).join("");
  }

  toolCard(name, args, callId) {
    const state = el("span", { class: "tool-state" }, "running…");
    const card = el(
      "details",
      { class: "card tool", data: { callId: callId ?? "" } },
      el("summary", {}, el("span", { class: "tool-name" }, name), " ", state),
      el("p", { class: "label" }, "Arguments"),
      el("pre", { class: "args" }, pretty(args)),
    );
    const entry = { node: card, state };
    if (callId) this.cards.set(callId, entry);
    this.blocks.push(entry);
    this.body.append(card);
    this.current = null;
    return entry;
  }

  finishToolCard(entry, output, isError) {
    entry.state.textContent = isError ? "error" : "done";
    entry.node.classList.toggle("error", isError);
    entry.node.append(el("p", { class: "label" }, isError ? "Error" : "Result"), el("pre", { class: "result" }, pretty(output)));
  }

  approvalCard(data) {
    const approve = el("button", { type: "button", class: "primary" }, "Approve");
    const reject = el("button", { type: "button", class: "danger" }, "Reject");
    const outcome = el("p", { class: "outcome", role: "status" });
    const card = el(
      "section",
      { class: "card approval", "aria-label": `Approval for ${data.name}`, data: { approvalId: data.approval_id } },
      el("p", {}, "The agent wants to run ", el("strong", {}, data.name), ". Allow it?"),
      el("pre", { class: "args" }, pretty(data.arguments)),
      el("div", { class: "approval-buttons" }, approve, reject),
      outcome,
    );
    const entry = { node: card, approve, reject, outcome, resolved: false };
    const decide = async (yes) => {
      approve.disabled = reject.disabled = true;
      outcome.textContent = yes ? "Approving…" : "Rejecting…";
      try {
        await this.onDecide(data.approval_id, yes);
        if (!entry.resolved) outcome.textContent = yes ? "Approved; running the tool…" : "Rejected";
      } catch (error) {
        if (entry.resolved) return;
        outcome.textContent = `Could not send the decision: ${error.message}`;
        approve.disabled = reject.disabled = false;
      }
    };
    approve.addEventListener("click", () => decide(true));
    reject.addEventListener("click", () => decide(false));
    const tool = this.cards.get(data.call_id);
    if (tool) tool.state.textContent = "waiting for approval";
    this.approvals.set(data.approval_id, entry);
    this.blocks.push(entry);
    this.body.append(card);
    this.current = null;
  }

  resolveApproval(data) {
    const entry = this.approvals.get(data.approval_id);
    if (!entry) return;
    entry.resolved = true;
    entry.approve.disabled = entry.reject.disabled = true;
    entry.node.classList.add(data.approved ? "approved" : "rejected");
    const reason = data.reason ? ` (${data.reason})` : "";
    entry.outcome.textContent = data.approved ? "Approved" : `Rejected${reason}`;
  }

  // turn.retry: the step starts again; what it had streamed goes (README, "Exactly once").
  retryStep() {
    for (const block of this.blocks.splice(this.stepStart)) {
      block.node.remove();
      const index = this.textBlocks.indexOf(block);
      if (index >= 0) this.textBlocks.splice(index, 1);
    }
    this.current = null;
  }

  endStep() {
    this.current = null;
    this.stepStart = this.blocks.length;
  }
}

const HANDLERS = {
  "turn.queued": (turn, data) => {
    if (turn.status === "queued") turn.setStatus("queued", `Queued (${data.position ?? 0} ahead)`);
  },
  "turn.started": (turn, data) => {
    turn.setStatus("running");
    turn.setAgent(data.agent);
    turn.endStep();
  },
  "agent.handoff": (turn, data) => {
    turn.chip(`${data.from_agent ?? "?"} → ${data.to_agent}`, "handoff", "handoff");
    turn.setAgent(data.to_agent);
  },
  "message.delta": (turn, data) => {
    if (turn.status === "queued") turn.setStatus("running");
    if (data.agent && turn.agentChip.hidden) turn.setAgent(data.agent);
    turn.appendText(data.text);
  },
  "tool.call": (turn, data) => {
    turn.toolCard(data.name, data.arguments, data.call_id);
  },
  "tool.result": (turn, data) => {
    const card = turn.cards.get(data.call_id) ?? turn.toolCard(data.name, {}, data.call_id);
    turn.finishToolCard(card, data.output, data.is_error);
    turn.endStep();
  },
  "approval.required": (turn, data) => turn.approvalCard(data),
  "approval.resolved": (turn, data) => turn.resolveApproval(data),
  "turn.retry": (turn) => {
    turn.retryStep();
    turn.chip("retried", "note", "the step was retried; its partial text was dropped");
  },
  "conversation.reset": (turn) => {
    turn.chip("conversation restored", "note", "the model had lost the conversation");
  },
  "turn.completed": (turn, data) => {
    if (!turn.textBlocks.length && data.output) turn.appendText(data.output);
    turn.setStatus("completed");
  },
  "turn.failed": (turn, data) => turn.setStatus("failed", `Failed: ${data.error?.message ?? "error"}`),
  "turn.cancelled": (turn) => turn.setStatus("cancelled"),
};
