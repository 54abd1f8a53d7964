/* The sidebar (assets/js/sidebar.js): unread and mention badges, the order of
 * conversations, and the count in the tab's title.
 *
 * Owns: what a `.live-event` from the server (news of a message elsewhere, see
 * src/chat/unread/views.rs) does to the sidebar and to an open /mentions page, badges
 * of the conversation shown while the window is elsewhere, the title, and the total on
 * the phone's Menu button. The count is what notifies: every unread message where the
 * level is "everything", unread mentions where it is "mentions", nothing where muted.
 * The phone drawer is the platform's: the Menu button opens `#sidebar` as a popover,
 * with no script at all.
 */
(() => {
  "use strict";
  const h = window.hearth;

  const count = (el) => (el ? Math.max(0, parseInt(el.dataset.count, 10) || 0) : 0);

  function setBadge(badge, n) {
    badge.dataset.count = String(n);
    badge.textContent = n > 0 ? String(n) : "";
    badge.setAttribute("aria-label", `${n} unread`);
  }

  function setMentions(badge, n) {
    badge.dataset.count = String(n);
    badge.textContent = n > 0 ? "@" + n : "";
    badge.setAttribute("aria-label", `${n} unread ${n === 1 ? "mention" : "mentions"}`);
  }

  function bumpBadge(conversationId, by = 1) {
    const badge = document.getElementById("unread-" + conversationId);
    if (badge) setBadge(badge, count(badge) + by);
  }

  function bumpMentions(conversationId, by = 1) {
    const badge = document.getElementById("mentions-" + conversationId);
    if (badge) setMentions(badge, count(badge) + by);
  }

  function updateTitle() {
    let n = 0;
    for (const item of document.querySelectorAll("#sidebar li.conv-item")) {
      const id = item.dataset.conversationId;
      const level = (h.$(".level", item) || { dataset: {} }).dataset.level;
      if (level === "everything") n += count(document.getElementById("unread-" + id));
      else if (level === "mentions") n += count(document.getElementById("mentions-" + id));
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
    const privateChat = kind === "direct" || kind === "group";
    const list = document.getElementById(privateChat ? "sidebar-direct" : "sidebar-rooms");
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
    if (d.event === "joined") {
      // Added to a private room: it joins the sidebar, with nothing unread yet.
      moveToTop(d.conversationId, d.kind, event.querySelector("template.sidebar-entry"));
      updateTitle();
      return;
    }
    if (d.event !== "message") return;
    const mine = d.authorId === h.me();
    const named = (d.mentions || "").split(" ");
    d.mentionsMe = !mine && (named.includes(h.me()) || named.includes("all")) ? "1" : "";
    // The author's other pages only reorder: the template names the author.
    const template = mine ? null : event.querySelector("template.sidebar-entry");
    const placed = moveToTop(d.conversationId, d.kind, template);
    if (!mine) {
      if (placed !== "added") bumpBadge(d.conversationId); // a new entry shows 1 already
      if (d.mentionsMe) {
        bumpMentions(d.conversationId);
        showMention(event.querySelector("template.mention-line"));
      }
      h.emit("message-elsewhere", d);
    }
    updateTitle();
  }

  // An open /mentions page gets the new mention at its top.
  function showMention(template) {
    const list = document.getElementById("mentions-list");
    if (!list || !template || !template.content.firstElementChild) return;
    const line = template.content.firstElementChild.cloneNode(true);
    if (document.getElementById(line.id)) return;
    list.prepend(line);
    const empty = h.$(".mentions-empty");
    if (empty) empty.hidden = true;
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
    bumpMentions(shown.id, theirs.filter(h.mentionsMe).length);
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
