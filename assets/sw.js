/* hearth's service worker (served at /sw.js, scope: the whole site).
 *
 * Owns: the offline page shown when a page cannot be fetched, the pushes that reach a
 * person with no page open (decrypted by the browser, shown here), and what clicking
 * one opens. Must not cache pages or messages: what a page shows always comes from the
 * server, so nothing stale or private outlives a log-out.
 */
"use strict";

const OFFLINE = "/offline";
// The stylesheet's URL carries its hash, so a new version keeps a new copy.
const KEPT = [OFFLINE, "__APP_CSS__", "__ICON__"];
const CACHE = "hearth-offline-" + "__APP_CSS__".replace(/[^a-z0-9]/gi, "");

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(KEPT)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("hearth-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
    return;
  }
  const url = new URL(request.url);
  if (url.origin === location.origin && KEPT.includes(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(url.pathname)));
  }
});

// A page that is visible shows its own notification (notifications.js); a push then
// says nothing more.
self.addEventListener("push", (event) => {
  let note = {};
  try { note = event.data ? event.data.json() : {}; } catch (_) { note = {}; }
  const title = typeof note.title === "string" && note.title ? note.title : "hearth";
  const count = Number(note.count) || 1;
  const body = (count > 1 ? count + " new messages · " : "") + (typeof note.body === "string" ? note.body : "");
  const url = typeof note.url === "string" && /^\/(?!\/)/.test(note.url) ? note.url : "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      if (windows.some((w) => w.visibilityState === "visible" && w.focused)) return undefined;
      return self.registration.showNotification(title, {
        body,
        tag: typeof note.tag === "string" && note.tag ? note.tag : "hearth",
        renotify: true,
        icon: "__ICON__",
        data: { url },
      });
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === location.origin && "navigate" in w);
      if (open) return open.navigate(url).then((w) => (w || open).focus());
      return self.clients.openWindow(url);
    }),
  );
});
