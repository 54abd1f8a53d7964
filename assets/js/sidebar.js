/* The sidebar (assets/js/sidebar.js): unread badges, the order of conversations, and
 * the unread count in the tab's title.
 *
 * Owns: what a `.live-event` from the server (news of a message elsewhere, see
 * src/chat/unread/views.rs) does to the sidebar, badges of the conversation shown
 * while the window is elsewhere, the title, and the total on the phone's Menu button. The phone drawer is the platform's:
 * the Menu button opens `#sidebar` as a popover, with no script at all.
 */
(() => {
  "use strict";
  const h = window.hearth;

  function setBadge(badge, n) {
    badge.dataset.count = String(n);
    badge.textContent = n > 0 ? String(n) : "";
    badge.setAttribute("aria-label", `${n} unread`);
  }

  function bumpBadge(conversationId, by = 1) {
    const badge = document.getElementById("unread-" + conversationId);
    if (badge) setBadge(badge, (parseInt(badge.dataset.count, 10) || 0) + by);
  }

  function updateTitle() {
    let n = 0;
    for (const b of document.querySelectorAll("#sidebar .unread-badge:not(#menu-unread)")) {
      n += Math.max(0, parseInt(b.dataset.count, 10) || 0);
    }
    const base = document.title.replace(/^\(\d+\) /, "");
    const want = n > 0 ? `(${n}) ${base}` : base;
    if (document.title !== want) document.title = want;
    // The phone's Menu button: all that shows of the sidebar while its drawer is shut.
    const menu = document.getElementById("menu-unread");
    if (menu && menu.dataset.count !== String(n)) setBadge(menu, n);
  }

  /** Moves the conversation to the top of its list, adding it from `template` when it
   * is not there; answers "added", "moved" or "". */
  function moveToTop(conversationId, kind, template) {
    const list = document.getElementById(kind === "direct" ? "sidebar-direct" : "sidebar-rooms");
    if (!list) return "";
    const item = list.querySelector(`li[data-conversation-id="${CSS.escape(conversationId)}"]`);
    if (!item) {
      if (!template || !template.content.firstElementChild) return "";
      list.prepend(template.content.firstElementChild.cloneNode(true));
      return "added";
    }
    if (list.firstElementChild !== item) list.prepend(item);
    return "moved";
  }

  // One `.live-event` serves every member; what it means for this viewer is decided here.
  function onLiveEvent(event) {
    const d = event.dataset;
    event.remove();
    if (d.event !== "message") return;
    const mine = d.authorId === h.me();
    // The author's other pages only reorder: the template names the author.
    const placed = moveToTop(d.conversationId, d.kind, mine ? null : event.querySelector("template"));
    if (!mine) {
      if (placed !== "added") bumpBadge(d.conversationId); // a new entry shows 1 already
      h.emit("message-elsewhere", d);
    }
    updateTitle();
  }

  // New messages in the conversation shown: it moves up, and while the window is
  // elsewhere they count as unread here too.
  h.on("arrivals", (articles) => {
    const shown = h.conversation();
    if (!shown) return;
    const item = document.querySelector(`#sidebar li[data-conversation-id="${CSS.escape(shown.id)}"]`);
    if (item && item.parentElement && item.parentElement.firstElementChild !== item) item.parentElement.prepend(item);
    const theirs = articles.filter((a) => a.dataset.authorId !== h.me());
    if (!theirs.length || h.focused()) return;
    bumpBadge(shown.id, theirs.length);
    updateTitle();
  });

  h.ready(() => {
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          if (n.matches(".live-event")) onLiveEvent(n);
          else if (n.firstElementChild) n.querySelectorAll(".live-event").forEach(onLiveEvent);
        }
      }
      updateTitle();
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-count"] });
    updateTitle();
  });
})();
