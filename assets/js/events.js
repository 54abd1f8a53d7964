/* Events programs publish (assets/js/events.js): `hearth:{type}` on `window`.
 *
 * Owns: the `.live-event`s of published events (src/app_events/views.rs): each one
 * fires a CustomEvent named `hearth:{type}` on `window`, its JSON detail as `detail`,
 * once per event id, in the order they arrive; and the page's events cursor (the
 * newest event it holds), which connection.js sends as `events_since` when the socket
 * reconnects, so that the server sends what the page missed.
 * Must not: run anything an event carries: its detail is data, parsed as JSON.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const seen = new Set();
  const SEEN_KEPT = 1000;
  h.eventsCursor = null;

  function advance(id) {
    if (Number.isFinite(id) && (h.eventsCursor === null || id > h.eventsCursor)) h.eventsCursor = id;
  }

  function take(el) {
    const d = el.dataset;
    if (d.event === "events-cursor") {
      el.remove();
      advance(Number(d.id));
      return;
    }
    if (d.event !== "app") return;
    el.remove();
    const id = Number(d.id);
    if (seen.has(id)) return; // live and caught up after a reconnect: once is enough
    seen.add(id);
    if (seen.size > SEEN_KEPT) seen.delete(seen.values().next().value);
    advance(id);
    let detail;
    try { detail = JSON.parse(d.detail); } catch (_) { return; }
    window.dispatchEvent(new CustomEvent("hearth:" + d.type, { detail }));
  }

  h.ready(() => {
    const box = document.getElementById("live-events");
    if (!box) return;
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.matches(".live-event")) take(n);
        }
      }
    }).observe(box, { childList: true });
  });
})();
