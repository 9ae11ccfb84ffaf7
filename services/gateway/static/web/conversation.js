// The turns of one session on the page, in order, and which events go to which turn.
//
// On load the transcript draws the finished turns and the session's replay log (from its start)
// draws the ones still going: a finished turn ignores its replayed events, so a reload shows each
// piece of text once. A turn the page learns of from an event alone (another tab sent it) gets
// its input from the transcript a moment later.

import { Turn } from "./turn.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);

export class Conversation {
  constructor(list, { onDecide, onChange, onUnknownTurn }) {
    this.list = list;
    this.onDecide = onDecide;
    this.onChange = onChange;
    this.onUnknownTurn = onUnknownTurn;
    this.turns = new Map();
    this.pending = []; // turns sent from this page whose id the gateway has not answered yet
    this.oldest = null; // created_at of the oldest turn the transcript gave, when older ones exist
  }

  clear() {
    this.turns.clear();
    this.pending = [];
    this.list.replaceChildren();
  }

  newTurn(id) {
    const turn = new Turn(id, { onDecide: this.onDecide });
    if (id) this.turns.set(id, turn);
    this.list.append(turn.node);
    return turn;
  }

  // A page of the transcript (oldest first): finished turns are drawn from it, the others keep
  // what the events drew. Turns it does not know stay as they are.
  merge(records, { older = false } = {}) {
    const anchor = older ? this.list.firstChild : null;
    for (const record of records) {
      let turn = this.turns.get(record.turn_id);
      const known = Boolean(turn);
      if (!turn) {
        turn = this.newTurn(record.turn_id);
        if (anchor) this.list.insertBefore(turn.node, anchor);
      }
      if (turn.input === null || turn.input === undefined) turn.setInput(record.input);
      if (FINISHED.has(record.status) && (!turn.finished || turn.gapped || turn.fromTranscript)) {
        turn.drawRecord(record);
      } else if (!known || (turn.status === "queued" && record.status === "running")) {
        turn.setStatus(record.status); // its events draw the rest
      }
    }
    this.onChange();
  }

  // A message sent from this page, drawn at once; `attach` gives it its turn id.
  sent(input) {
    const turn = this.newTurn(null);
    turn.setInput(input);
    turn.setStatus("queued", "Sending…");
    this.pending.push(turn);
    this.onChange();
    return turn;
  }

  attach(turn, receipt) {
    this.pending = this.pending.filter((item) => item !== turn);
    const existing = this.turns.get(receipt.turn_id);
    if (existing && existing !== turn) {
      // Its events came first and drew it already: keep that one, with the input.
      existing.setInput(turn.input);
      turn.node.remove();
    } else {
      turn.setId(receipt.turn_id);
      this.turns.set(receipt.turn_id, turn);
      if (turn.status === "queued") {
        const ahead = receipt.position ? ` (${receipt.position} ahead)` : "";
        turn.setStatus(receipt.status === "running" ? "running" : "queued", receipt.status === "queued" ? `Queued${ahead}` : "");
      }
    }
    this.onChange();
  }

  unsent(turn, message) {
    this.pending = this.pending.filter((item) => item !== turn);
    turn.setStatus("failed", `Not sent: ${message}`);
    this.onChange();
  }

  // One event of the session's stream; `eventId` is its bus id (null for a derived end).
  apply(type, data, eventId) {
    if (!data.turn_id) return;
    let turn = this.turns.get(data.turn_id);
    if (!turn) {
      if (this.isOlderThanShown(eventId)) return;
      turn = this.newTurn(data.turn_id);
      turn.setInput(null);
      this.onUnknownTurn(data.turn_id);
    }
    if (turn.fromTranscript) return; // drawn whole from the transcript
    if (type === "stream.gap") {
      turn.gapped = true;
      return;
    }
    if (turn.finished && type !== "approval.resolved") return;
    turn.apply(type, data);
    if (FINISHED.has(type.slice(5)) || type === "turn.started" || type === "turn.queued") this.onChange();
  }

  // Events of a turn older than the transcript's first page belong to no turn on the page.
  isOlderThanShown(eventId) {
    if (!this.oldest || !eventId) return false;
    const ms = Number(eventId.split("-")[0]);
    return ms < Date.parse(this.oldest);
  }

  get running() {
    for (const turn of this.turns.values()) if (turn.status === "running") return turn;
    return null;
  }

  get active() {
    return [...this.turns.values()].filter((turn) => !turn.finished);
  }

  get busy() {
    return this.active.length > 0 || this.pending.length > 0;
  }

  get gapped() {
    return [...this.turns.values()].some((turn) => turn.gapped);
  }
}
