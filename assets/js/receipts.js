/* Reading (assets/js/receipts.js): what the person has seen is reported to the
 * server, and in a private chat the other person's reading shows as two ticks.
 *
 * Owns: `POST /conversations/{id}/read` (in the support widget's frame, the path its
 * body's `data-read-url` names; at most once a second, only while the page
 * is looked at, or at once when Escape says so: `h.markRead`), and the `is-read` ticks from `.peer-read` (src/chat/unread/views.rs).
 */
(() => {
  "use strict";
  const h = window.hearth;
  const READ_EVERY_MS = 1000;
  const read = { sent: 0, at: 0, timer: 0 };

  /** Reports what the page shows, once a second at most; `now` (a key the person
   * pressed to say they have read it) skips the wait and the check of focus. */
  function reportRead(now) {
    const shown = h.conversation();
    if (!shown || (now !== true && (document.hidden || !document.hasFocus()))) return;
    const upTo = h.maxMessageId();
    if (!upTo || upTo <= read.sent) return;
    const wait = read.at + READ_EVERY_MS - Date.now();
    if (wait > 0 && now !== true) {
      if (!read.timer) read.timer = setTimeout(() => { read.timer = 0; reportRead(); }, wait);
      return;
    }
    read.sent = upTo;
    read.at = Date.now();
    const headers = { "Content-Type": "application/x-www-form-urlencoded" };
    const token = h.csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    // The support widget's frame reports through its own path, as its visitor.
    const guest = document.body.dataset.guestToken;
    if (guest) headers["X-Hearth-Guest"] = guest;
    const url = document.body.dataset.readUrl || `/conversations/${encodeURIComponent(shown.id)}/read`;
    fetch(url, {
      method: "POST", headers, credentials: "same-origin",
      body: new URLSearchParams({ up_to: String(upTo) }),
    }).catch(() => { /* best effort: the next message or focus retries */ });
  }

  /** Two ticks on my messages the other person has read (private chats). */
  function applyReceipts() {
    const mark = h.$(".peer-read[data-up-to]");
    if (!mark) return;
    const upTo = parseInt(mark.dataset.upTo, 10) || 0;
    for (const a of document.querySelectorAll(`#messages article.message[data-author-id="${CSS.escape(h.me())}"]`)) {
      const isRead = h.messageId(a) <= upTo;
      a.classList.toggle("is-read", isRead);
      const receipt = h.$(".receipt", a);
      if (receipt) receipt.title = isRead ? "Read" : "Sent";
    }
  }

  h.on("arrivals", () => { applyReceipts(); reportRead(); });

  h.ready(() => {
    applyReceipts();
    new MutationObserver((records) => {
      if (records.some((r) => [...r.addedNodes].some((n) => n.nodeType === 1 && n.matches(".peer-read, article.message")))) {
        applyReceipts();
      }
    }).observe(document.body, { childList: true, subtree: true });
    window.addEventListener("focus", reportRead);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) reportRead(); });
    // A backstop for a focus event the page never got (focus that arrived while the
    // page was still loading, a window manager that does not send one): a check every
    // few seconds, which does nothing unless there is something new to report.
    setInterval(reportRead, 3 * READ_EVERY_MS);
    reportRead();
  });

  h.reportRead = reportRead;
  h.markRead = () => reportRead(true);
})();
