/* Desktop notifications (assets/js/notifications.js): the button that asks for them,
 * and a notification for what the person's level in a conversation asks for (every
 * message, or mentions only; nothing when muted) while they look elsewhere. Clicking
 * one opens the message. Once allowed, this browser also subscribes to Web Push, so
 * that the service worker (/sw.js) tells the person when no page is open.
 *
 * Owns: the permission button in the account menu, `notify`, the service worker's
 * registration and this browser's push subscription. Must not notify of the person's
 * own messages, or of the conversation they are looking at.
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

  const wanted = (conversationId, kind, mentionsMe) => {
    const level = h.levelOf(conversationId, kind);
    return level === "everything" || (level === "mentions" && mentionsMe);
  };

  // A message for the person on another of their pages.
  h.on("message-elsewhere", (d) => {
    if (wanted(d.conversationId, d.kind, !!d.mentionsMe)) {
      notify(d.title, d.body, "/messages/" + d.messageId, d.conversationId);
    }
  });

  // A message in the conversation shown, while the window is elsewhere.
  h.on("arrivals", (articles) => {
    const shown = h.conversation();
    if (!shown) return;
    const theirs = articles.filter((a) => a.dataset.authorId !== h.me());
    const notifying = theirs.filter((a) => wanted(shown.id, shown.kind, h.mentionsMe(a)));
    if (!notifying.length) return;
    const last = notifying[notifying.length - 1];
    const body = h.$(".message-body", last);
    const id = h.messageId(last);
    notify(last.dataset.author, body ? body.textContent.trim().slice(0, 140) : "", "/messages/" + id, shown.id);
  });

  const base64url = (text) => {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };

  // Subscribes this browser to the person's pushes, or renews a subscription made with
  // another server key. Quietly does nothing where push is not offered.
  async function subscribePush(registration) {
    if (!registration || !("pushManager" in registration) || Notification.permission !== "granted") return;
    try {
      const key = (await (await fetch("/push/key", { credentials: "same-origin" })).text()).trim();
      let subscription = await registration.pushManager.getSubscription();
      const current = subscription && subscription.options && subscription.options.applicationServerKey;
      if (subscription && current && btoa(String.fromCharCode(...new Uint8Array(current))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") !== key) {
        await subscription.unsubscribe();
        subscription = null;
      }
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64url(key) });
      }
      const token = h.csrfToken();
      await fetch("/push/subscriptions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(subscription),
      });
    } catch (_) { /* no push service here (e.g. a headless browser) */ }
  }

  let registered = null;
  if ("serviceWorker" in navigator && window.isSecureContext) {
    registered = navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => null);
  }

  h.ready(() => {
    if (!canNotify() || !h.me()) return;
    if (registered) registered.then(subscribePush);
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
      if (registered) registered.then(subscribePush);
    });
    sync();
  });
})();
