/* The page's WebSocket (assets/js/connection.js): where it picks up, and whether it is
 * connected.
 *
 * Owns: htmx-ws settings, the socket's cursors (?since=: the last event the page
 * holds, from #cursor, which every frame of events moves; ?events_since=: the last
 * published event, kept by events.js), the connection indicator,
 * and the repair of a socket htmx started before hx-ws had loaded.
 * Must not: reorder or filter what the socket brings: the server sends each event
 * once, in order.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const live = { connection: null, leaving: false };
  h.live = live;

  // A chat must keep its socket in background tabs or it cannot notify (the meta
  // htmx-config says so too; this holds if the meta tag is ever dropped).
  if (window.htmx && htmx.config) {
    htmx.config.ws = { ...(htmx.config.ws || {}), pauseOnBackground: false };
  }

  function withCursor(url) {
    const cursor = document.getElementById("cursor");
    const seq = cursor && cursor.dataset.seq;
    const published = h.eventsCursor;
    if (!seq && (published === null || published === undefined)) return url;
    try {
      const u = new URL(url, location.href);
      if (seq) u.searchParams.set("since", seq); // replaces an older one
      if (published !== null && published !== undefined) u.searchParams.set("events_since", String(published));
      return u.href;
    } catch (_) {
      return url;
    }
  }

  function setState(state, text) {
    // Only a lost link counts as offline; the first "connecting" does not, so the
    // banner never flashes on an ordinary page load.
    document.body.classList.toggle("offline", state === "reconnecting" || state === "disconnected");
    document.body.dataset.connection = state; // lets CSS word the banner
    const el = document.getElementById("connection-status");
    if (!el || el.dataset.state === state) return;
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = text;
    el.title = text;
  }

  // Fired before the first connect and before every reconnect: hx-ws opens the
  // socket with connection.url, so ask only for what the page misses.
  document.addEventListener("htmx:ws:before:connection", (evt) => {
    const conn = evt.detail && evt.detail.connection;
    if (conn) conn.url = withCursor(conn.url);
  });
  document.addEventListener("htmx:ws:after:connection", (evt) => {
    live.connection = evt.detail && evt.detail.connection;
    setState("connected", "Connected");
  });
  document.addEventListener("htmx:ws:close", (evt) => {
    const d = evt.detail || {};
    if (live.leaving || d.reason === "removed") return;
    // hx-ws retries only for some close codes; say so honestly otherwise.
    const cfg = d.connection && d.connection.config;
    const retries = d.reason === "closed" && cfg && cfg.reconnect &&
      (cfg.reconnectCodes || []).includes(d.code);
    if (retries) setState("reconnecting", "Reconnecting…");
    else setState("disconnected", "Disconnected — reload to retry");
  });
  document.addEventListener("htmx:ws:error", (evt) => {
    const s = evt.detail && evt.detail.connection && evt.detail.connection.socket;
    // Errors while the socket is open are bad messages or swaps, not a lost link.
    if (live.leaving || (s && s.readyState === WebSocket.OPEN)) return;
    setState("reconnecting", "Reconnecting…");
  });
  window.addEventListener("pagehide", () => { live.leaving = true; });
  // hx-ws closes the socket on pagehide; a page restored from the back/forward cache
  // would be silently stale, so load it afresh.
  window.addEventListener("pageshow", (evt) => { if (evt.persisted) location.reload(); });

  /** Sends a JSON frame on the page's socket, if it is open. */
  h.send = (frame) => {
    const s = live.connection && live.connection.socket;
    if (!s || s.readyState !== WebSocket.OPEN) return false;
    try { s.send(JSON.stringify(frame)); return true; } catch (_) { return false; }
  };

  // htmx starts itself with setTimeout() once the document is parsed. That timer can
  // fire before hx-ws (or this file) has run, leaving #live unprocessed or connected
  // without us; htmx.process() is a no-op for elements hx-ws has initialised.
  h.ready(() => {
    const owners = document.querySelectorAll("[hx-ws\\:connect], [data-hx-ws\\:connect]");
    const status = document.getElementById("connection-status");
    // The server renders the status hidden: a page without script does not connect.
    // A page without a socket (an error page) has nothing to connect.
    if (status) status.hidden = !owners.length;
    if (!window.htmx || !owners.length) return;
    setTimeout(() => owners.forEach((el) => {
      htmx.process(el);
      const conn = el._htmx && el._htmx.ws && el._htmx.ws.connection;
      if (conn && conn.socket && conn.socket.readyState === WebSocket.OPEN && !live.connection) {
        live.connection = conn;
        setState("connected", "Connected");
      }
    }), 0);
  });
})();
