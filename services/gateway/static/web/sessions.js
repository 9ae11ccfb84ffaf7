// The user's sessions, newest first (GET /v1/sessions), as links to `#/s/<session id>`.

import { el } from "./turn.js";

function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

export class SessionList {
  constructor({ list, note, more }) {
    this.list = list;
    this.note = note;
    this.more = more;
    this.pageToken = null;
    this.current = null;
    this.local = new Map(); // sessions made here that the list did not show yet
    this.load = async () => ({ sessions: [] });
    more.addEventListener("click", () => this.refresh({ append: true }));
  }

  async refresh({ append = false } = {}) {
    let page;
    try {
      page = await this.load(append ? this.pageToken : null);
    } catch (error) {
      this.note.textContent = `Could not list the sessions: ${error.message}`;
      return;
    }
    if (!append) this.list.replaceChildren();
    for (const session of page.sessions || []) {
      this.local.delete(session.session_id);
      this.list.append(this.item(session));
    }
    if (!append) for (const session of this.local.values()) this.list.prepend(this.item(session));
    this.pageToken = page.next_page_token || null;
    this.more.hidden = !this.pageToken;
    this.note.textContent = this.list.childElementCount ? "" : "No chats yet.";
    this.mark(this.current);
  }

  item(session) {
    const title = session.title || "Untitled chat";
    const link = el(
      "a",
      { href: `#/s/${encodeURIComponent(session.session_id)}`, data: { sid: session.session_id } },
      el("span", { class: "title" }, title),
      el("span", { class: "meta" }, `${when(session.created_at)}${session.status === "ended" ? " · ended" : ""}`),
    );
    return el("li", {}, link);
  }

  // A session this page just made, first in the list until the next refresh lists it.
  add(session) {
    if (this.list.querySelector(`a[data-sid="${CSS.escape(session.session_id)}"]`)) return;
    this.local.set(session.session_id, session);
    this.list.prepend(this.item(session));
    this.note.textContent = "";
    this.mark(session.session_id);
  }

  // Highlight the open session.
  mark(sid) {
    this.current = sid;
    for (const link of this.list.querySelectorAll("a")) {
      if (link.dataset.sid === sid) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}
