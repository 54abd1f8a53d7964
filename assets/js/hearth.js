/* hearth: what the page's behaviours share (assets/js/hearth.js, loaded first).
 *
 * Owns: `window.hearth`, a few helpers that read the page (who is viewing, which
 * conversation, the CSRF token, message ids), and a tiny event channel between the
 * behaviours (`hearth.on`, `hearth.emit`). Each behaviour is a file of its own:
 * connection.js, times.js, history.js, mentions.js, uploads.js, composer.js,
 * lightbox.js, actions.js, sidebar.js, notifications.js, receipts.js, shortcuts.js,
 * switcher.js.
 *
 * Must not: be needed for anything to work (every form and link works without
 * script), inject inline scripts or styles, use eval, or change what a message says.
 */
(() => {
  "use strict";
  // The page has its script: styles made for pages without it step aside.
  document.documentElement.classList.remove("no-js");
  const listeners = new Map();
  const $ = (sel, root = document) => root.querySelector(sel);

  function messageId(el) {
    const m = /^message-(\d+)$/.exec((el && el.id) || "");
    return m ? Number(m[1]) : NaN;
  }

  window.hearth = {
    $,
    messageId,
    isMessage: (n) => !!n && n.nodeType === 1 && n.matches("article.message"),
    isBlank: (s) => !s || !s.trim(),
    /** The viewer's user id ("" when signed out). */
    me: () => document.body.dataset.userId || "",
    /** Whether the person is looking at this page. */
    focused: () => document.hasFocus() && !document.hidden,
    /** The conversation this page shows, or null. */
    conversation: () => {
      const main = $("main.conversation[data-conversation-id]");
      return main ? { id: main.dataset.conversationId, kind: main.dataset.kind } : null;
    },
    /** The newest message on the page. */
    maxMessageId: () => {
      let max = 0;
      for (const a of document.querySelectorAll('#messages article.message[id^="message-"]')) {
        const n = messageId(a);
        if (n > max) max = n;
      }
      return max;
    },
    /** What notifies the viewer in a conversation: "everything", "mentions" or
     * "nothing", as the sidebar's mark says (the kind's default without one). */
    levelOf: (conversationId, kind) => {
      const mark = document.getElementById("level-" + conversationId);
      if (mark && mark.dataset.level) return mark.dataset.level;
      return kind === "direct" || kind === "group" ? "everything" : "mentions";
    },
    /** Whether a message (its article) mentions the viewer, alone or in a group. */
    mentionsMe: (article) => {
      const me = document.body.dataset.userId;
      return !!me && !!article.querySelector(`.message-body .mention[data-user-id="${CSS.escape(me)}"], .message-body .mention-all`);
    },
    csrfToken: () => {
      const b = document.body;
      const raw = b.getAttribute("hx-headers:inherited") || b.getAttribute("hx-headers");
      try { return JSON.parse(raw)["X-CSRF-Token"] || ""; } catch (_) { /* fall through */ }
      const field = $('input[name="csrf_token"]');
      return field ? field.value : "";
    },
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(fn);
    },
    emit(name, detail) {
      for (const fn of listeners.get(name) || []) {
        try { fn(detail); } catch (e) { console.error(e); }
      }
    },
    /** Runs `fn` once the document is parsed. */
    ready(fn) {
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
      else fn();
    },
  };
})();
