/* The operators' inbox (assets/js/inbox.js), on /inbox.
 *
 * Owns: the list's live rows: a row the socket brings goes first and replaces the
 * one it updates; rows outside the page's view (open, mine, unassigned, closed) are
 * hidden, read from the row's data attributes.
 * Must not: change what a row says: the server renders one row for every operator.
 */
(() => {
  "use strict";
  const list = document.getElementById("inbox-list");
  if (!list) return;
  const me = document.body.dataset.userId || "";
  const view = list.dataset.view;
  function fits(row) {
    const open = row.dataset.status === "open";
    switch (view) {
      case "mine": return open && row.dataset.assignee === me;
      case "unassigned": return open && !row.dataset.assignee;
      case "closed": return !open;
      default: return open;
    }
  }
  function tidy() {
    const kept = new Set();
    for (const row of [...list.children]) {
      const id = row.dataset.conversationId;
      if (kept.has(id)) { row.remove(); continue; }
      kept.add(id);
      row.hidden = !fits(row);
    }
    const empty = document.getElementById("inbox-empty");
    if (empty) empty.hidden = [...list.children].some((r) => !r.hidden);
  }
  new MutationObserver(tidy).observe(list, { childList: true });
  tidy();
})();
