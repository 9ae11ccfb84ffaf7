// Markdown to DOM nodes, safely: every piece of the model's text becomes a text node (or the
// text of an element this file chose); nothing is parsed as HTML, so markup in a reply is
// shown as text. Links keep only http(s) and mailto targets.
//
// Enough of CommonMark for chat replies: paragraphs, headings, lists, quotes, fenced code,
// rules, pipe tables; inline code, bold, italics, strike-through and links.

const SAFE_LINK = /^(https?:|mailto:)/i;
const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^\s*])([\s\S]*?[^\s*])\*|(?<![\w])_(?=\S)([\s\S]*?\S)_(?![\w])|~~(?=\S)([\s\S]*?\S)~~|\[([^\]\n]+)\]\(([^)\s]+)\)/g;

function el(tag, ...children) {
  const node = document.createElement(tag);
  for (const child of children) node.append(child);
  return node;
}

export function renderInline(text, parent) {
  let last = 0;
  // matchAll works on a copy of the pattern: the nested calls below cannot move this loop's place.
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) appendText(parent, text.slice(last, match.index));
    const [, ticks, code, strong1, strong2, em1, em2, del, label, href] = match;
    if (ticks) parent.append(el("code", code.trim() || code));
    else if (strong1 ?? strong2) renderInline(strong1 ?? strong2, parent.appendChild(el("strong")));
    else if (em1 ?? em2) renderInline(em1 ?? em2, parent.appendChild(el("em")));
    else if (del) renderInline(del, parent.appendChild(el("del")));
    else if (label) parent.append(link(label, href));
    last = match.index + match[0].length;
  }
  if (last < text.length) appendText(parent, text.slice(last));
  return parent;
}

function appendText(parent, text) {
  // A single newline inside a paragraph is a visible line break in chat text.
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (index) parent.append(el("br"));
    if (line) parent.append(document.createTextNode(line));
  });
}

function link(label, href) {
  if (!SAFE_LINK.test(href)) return document.createTextNode(`${label} (${href})`);
  const anchor = el("a");
  anchor.href = href;
  anchor.rel = "noopener noreferrer nofollow";
  anchor.target = "_blank";
  renderInline(label, anchor);
  return anchor;
}

const FENCE = /^\s{0,3}(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

function startsBlock(line) {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    BULLET.test(line) ||
    ORDERED.test(line) ||
    QUOTE.test(line) ||
    RULE.test(line)
  );
}

function cells(row) {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

// Parse `lines` from `start`; returns [node, next index].
function block(lines, start) {
  const line = lines[start];
  let match;
  if ((match = FENCE.exec(line))) {
    const body = [];
    let index = start + 1;
    while (index < lines.length && !lines[index].trim().startsWith(match[1])) body.push(lines[index++]);
    const code = el("code", body.join("\n"));
    if (match[2]) code.dataset.lang = match[2];
    return [el("pre", code), index + 1];
  }
  if ((match = HEADING.exec(line))) {
    const level = Math.min(match[1].length + 2, 6); // the page's own headings come first
    return [renderInline(match[2], el(`h${level}`)), start + 1];
  }
  if (RULE.test(line)) return [el("hr"), start + 1];
  if (QUOTE.test(line)) {
    const body = [];
    let index = start;
    while (index < lines.length && (match = QUOTE.exec(lines[index]))) {
      body.push(match[1]);
      index++;
    }
    return [renderBlocks(body, el("blockquote")), index];
  }
  if (BULLET.test(line) || ORDERED.test(line)) return list(lines, start);
  if (TABLE_ROW.test(line) && start + 1 < lines.length && TABLE_RULE.test(lines[start + 1])) {
    return table(lines, start);
  }
  const body = [line];
  let index = start + 1;
  while (index < lines.length && lines[index].trim() && !startsBlock(lines[index])) {
    body.push(lines[index++]);
  }
  return [renderInline(body.join("\n"), el("p")), index];
}

function list(lines, start) {
  const ordered = ORDERED.test(lines[start]);
  const pattern = ordered ? ORDERED : BULLET;
  const node = el(ordered ? "ol" : "ul");
  if (ordered) {
    const first = Number(ORDERED.exec(lines[start])[1]);
    if (first !== 1) node.start = first;
  }
  let index = start;
  let item = null;
  while (index < lines.length) {
    const line = lines[index];
    const match = pattern.exec(line);
    if (match) {
      item = renderInline(ordered ? match[2] : match[1], el("li"));
      node.append(item);
    } else if (item && line.trim() && /^\s{2,}/.test(line)) {
      item.append(el("br"));
      renderInline(line.trim(), item); // a continuation line of the item
    } else {
      break;
    }
    index++;
  }
  return [node, index];
}

function table(lines, start) {
  const node = el("table");
  const head = el("tr");
  for (const cell of cells(lines[start])) head.append(renderInline(cell, el("th")));
  node.append(el("thead", head));
  const body = el("tbody");
  let index = start + 2;
  while (index < lines.length && TABLE_ROW.test(lines[index])) {
    const row = el("tr");
    for (const cell of cells(lines[index])) row.append(renderInline(cell, el("td")));
    body.append(row);
    index++;
  }
  node.append(body);
  const wrap = el("div", node);
  wrap.className = "table-wrap"; // scrolls sideways on a narrow screen
  return [wrap, index];
}

function renderBlocks(lines, parent) {
  let index = 0;
  while (index < lines.length) {
    if (!lines[index].trim()) {
      index++;
      continue;
    }
    const [node, next] = block(lines, index);
    parent.append(node);
    index = next;
  }
  return parent;
}

// Render `text` into `container`, replacing what it held.
export function renderMarkdown(text, container) {
  const fragment = document.createDocumentFragment();
  renderBlocks(text.replace(/\r\n?/g, "\n").split("\n"), fragment);
  container.replaceChildren(fragment);
  return container;
}
