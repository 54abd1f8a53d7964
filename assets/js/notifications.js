/* Desktop notifications (assets/js/notifications.js): the button that asks for them,
 * and a notification for a private message while the person looks elsewhere.
 *
 * Owns: the permission button in the account menu, and `notify`. Must not notify of
 * the person's own messages, or while they look at the page.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const canNotify = () => "Notification" in window;

  function notify(title, body, url, conversationId) {
    if (!title || !canNotify() || Notification.permission !== "granted") return;
    if (h.focused()) return;
    try {
      const n = new Notification(title, { body: body || "", tag: "hearth-" + (conversationId || "") });
      n.addEventListener("click", () => {
        window.focus();
        n.close();
        if (url && /^\/(?!\/)/.test(url)) location.assign(url); // same-site paths only
      });
    } catch (_) { /* e.g. Android Chrome wants a service worker */ }
  }

  // A private message on another page of the person's.
  h.on("message-elsewhere", (d) => {
    if (d.kind === "direct") notify(d.title, d.body, d.url, d.conversationId);
  });

  // A private message in the chat shown, while the window is elsewhere.
  h.on("arrivals", (articles) => {
    const shown = h.conversation();
    if (!shown || shown.kind !== "direct") return;
    const theirs = articles.filter((a) => a.dataset.authorId !== h.me());
    if (!theirs.length) return;
    const last = theirs[theirs.length - 1];
    const body = h.$(".message-body", last);
    notify(last.dataset.author, body ? body.textContent.slice(0, 140) : "", location.pathname, shown.id);
  });

  h.ready(() => {
    if (!canNotify() || !h.me()) return;
    let btn = document.getElementById("enable-notifications");
    const menu = h.$(".user-menu");
    if (!btn && menu) {
      btn = document.createElement("button");
      btn.type = "button";
      btn.id = "enable-notifications";
      btn.className = "link-button";
      // Two labels so phones can show the short one (CSS picks).
      const long = document.createElement("span");
      long.className = "label-long";
      long.textContent = "Enable notifications";
      const short = document.createElement("span");
      short.className = "label-short";
      short.setAttribute("aria-hidden", "true");
      short.textContent = "Notify";
      btn.append(long, short);
      menu.insertBefore(btn, h.$(".logout", menu));
    }
    if (!btn) return;
    // Where the button was, a denied permission says how to undo it.
    const denied = document.createElement("span");
    denied.className = "notifications-denied muted";
    denied.textContent = "Notifications blocked: allow them in this site's settings (the icon beside the address).";
    denied.hidden = true;
    btn.after(denied);
    const sync = () => {
      btn.hidden = Notification.permission !== "default";
      denied.hidden = Notification.permission !== "denied";
    };
    btn.addEventListener("click", async () => {
      try { await Notification.requestPermission(); } catch (_) { /* old API or blocked */ }
      sync();
    });
    sync();
  });
})();
