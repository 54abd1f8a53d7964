/* hearth — browser-side behaviour (assets/app.js)
 *
 * Owns: the htmx-ws settings, the socket's catch-up URL (?after=), the
 * connection indicator, message order/dedupe/presentation (local times, day
 * dividers, "continued" runs, avatars), scrolling, the composer's keyboard and
 * typing signals, the phone drawer, the unread count in the title, desktop
 * notifications and read receipts.
 *
 * Must not: be needed for anything to work (every form and link still works
 * without it), inject inline scripts or styles, use eval, or trust server
 * markup beyond the ids/classes/data-attributes listed in the report. It
 * only ever adds presentation (dividers, avatars, the "new messages" pill),
 * never changes what a message says.
 *
 * Loaded with `defer` after htmx and hx-ws. htmx starts itself on a timer
 * that usually fires after this file has run, so listeners registered at the
 * top level see the first `htmx:ws:before:connection`; ensureSocket() below
 * repairs the rare case where it fired earlier.
 */
(() => {
  "use strict";

  const NEAR_BOTTOM_PX = 80;          // "reader is at the bottom" tolerance
  const CONTINUE_MS = 5 * 60 * 1000;  // same author within 5 min = one run
  const TYPING_EVERY_MS = 2000;
  const READ_EVERY_MS = 1000;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  const $ = (sel, root = document) => root.querySelector(sel);
  const isBlank = (s) => !s || !s.trim();
  const isMessage = (n) => n && n.nodeType === 1 && n.matches("article.message");
  const isDivider = (n) => n && n.nodeType === 1 && n.classList.contains("day-divider");

  function messageId(el) {
    const m = /^message-(\d+)$/.exec(el.id || "");
    return m ? Number(m[1]) : NaN;
  }
  function messageArticles(box) {
    return box ? [...box.children].filter(isMessage) : [];
  }
  function maxMessageId() {
    let max = 0;
    for (const a of document.querySelectorAll('#messages article.message[id^="message-"]')) {
      const n = messageId(a);
      if (n > max) max = n;
    }
    return max;
  }

  /* ---------- 1. hx-ws configuration ----------
   * The <meta name="htmx-config"> JSON already sets ws.pauseOnBackground
   * (htmx JSON-parses meta content starting with "{"). Repeat it here in case
   * the meta tag is ever dropped: a chat must keep its socket in background
   * tabs or it cannot notify. hx-ws reads htmx.config.ws when it connects. */
  if (window.htmx && htmx.config) {
    htmx.config.ws = { ...(htmx.config.ws || {}), pauseOnBackground: false };
  }

  /* ---------- 2 & 3. socket catch-up and connection indicator ---------- */
  const live = { connection: null, leaving: false };

  function withAfter(url, after) {
    try {
      const u = new URL(url, location.href);
      u.searchParams.set("after", String(after)); // replaces an older after=
      return u.href;
    } catch (_) {
      return url;
    }
  }

  function setConnectionState(state, text) {
    // Only a lost link counts as offline; the first "connecting" does not,
    // so the banner never flashes on an ordinary page load.
    document.body.classList.toggle("offline", state === "reconnecting" || state === "disconnected");
    document.body.dataset.connection = state; // lets CSS word the banner
    const el = document.getElementById("connection-status");
    if (!el || el.dataset.state === state) return;
    el.dataset.state = state;
    el.textContent = text;
    el.title = text;
  }

  // Fired before the first connect and before every scheduled reconnect:
  // hx-ws opens the socket with connection.url, so ask only for what we miss.
  document.addEventListener("htmx:ws:before:connection", (evt) => {
    const conn = evt.detail && evt.detail.connection;
    if (conn && document.getElementById("messages")) {
      conn.url = withAfter(conn.url, maxMessageId());
    }
  });
  document.addEventListener("htmx:ws:after:connection", (evt) => {
    live.connection = evt.detail && evt.detail.connection;
    setConnectionState("connected", "Connected");
  });
  document.addEventListener("htmx:ws:close", (evt) => {
    const d = evt.detail || {};
    if (live.leaving || d.reason === "removed") return;
    // hx-ws retries only for some close codes; say so honestly otherwise.
    const cfg = d.connection && d.connection.config;
    const retries = d.reason === "closed" && cfg && cfg.reconnect &&
      (cfg.reconnectCodes || []).includes(d.code);
    if (retries) setConnectionState("reconnecting", "Reconnecting…");
    else setConnectionState("disconnected", "Disconnected — reload to retry");
  });
  document.addEventListener("htmx:ws:error", (evt) => {
    const s = evt.detail && evt.detail.connection && evt.detail.connection.socket;
    // Errors while the socket is open are bad messages/swaps, not a lost link.
    if (live.leaving || (s && s.readyState === WebSocket.OPEN)) return;
    setConnectionState("reconnecting", "Reconnecting…");
  });
  window.addEventListener("pagehide", () => { live.leaving = true; });
  // hx-ws closes the socket on pagehide; a page restored from the
  // back/forward cache would be silently stale, so load it afresh.
  window.addEventListener("pageshow", (evt) => { if (evt.persisted) location.reload(); });

  /* ---------- 5. message presentation ---------- */
  function messageDate(a) {
    const ts = a.dataset.ts || (a.querySelector("time") || {}).dateTime;
    const d = ts ? new Date(ts) : null;
    return d && !isNaN(d) ? d : null;
  }
  const dayKey = (d) => `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;

  function dayLabel(d) {
    const now = new Date();
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(d) === dayKey(now)) return "Today";
    if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
    return d.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  }

  function makeDivider(d) {
    const div = document.createElement("div");
    div.className = "day-divider";
    div.setAttribute("role", "separator");
    div.dataset.day = dayKey(d);
    div.dataset.ts = d.toISOString();
    const span = document.createElement("span");
    span.textContent = dayLabel(d);
    div.append(span);
    return div;
  }

  function localizeTime(a, d) {
    const t = a.querySelector("time");
    if (!t || a.dataset.localized) return;
    t.textContent = d.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
    t.title = d.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
    a.dataset.localized = "1";
  }

  // Golden-angle steps keep neighbouring ids (7, 8, 9…) far apart in hue.
  function hueFor(key) {
    let h = 0;
    for (const ch of String(key)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return Math.round((h * 137.508) % 360);
  }
  function ensureAvatar(a) {
    if (a.firstElementChild && a.firstElementChild.classList.contains("avatar")) return;
    const name = (a.dataset.author || ($(".author", a) || {}).textContent || "?").trim();
    const av = document.createElement("span");
    av.className = "avatar";
    av.setAttribute("aria-hidden", "true");
    av.textContent = ([...name][0] || "?").toUpperCase();
    av.style.setProperty("--hue", String(hueFor(a.dataset.authorId || name)));
    a.prepend(av);
  }

  // Recompute one message against the message above it: divider, run, time.
  function decorate(a) {
    const d = messageDate(a);
    if (d) localizeTime(a, d);
    ensureAvatar(a);

    const dividers = [];
    let p = a.previousElementSibling;
    while (isDivider(p)) { dividers.push(p); p = p.previousElementSibling; }
    const prev = isMessage(p) ? p : null;
    const pd = prev && messageDate(prev);
    const newDay = !!d && (!pd || dayKey(pd) !== dayKey(d));

    // Keep a divider that is already right (no churn), drop the rest.
    const keep = newDay && dividers.find((x) => x.dataset.day === dayKey(d));
    dividers.forEach((x) => { if (x !== keep) x.remove(); });
    if (newDay && !keep) a.before(makeDivider(d));

    const gap = d && pd ? d - pd : -1;
    const continued = !newDay && !!prev && prev.dataset.authorId === a.dataset.authorId &&
      gap >= 0 && gap < CONTINUE_MS;
    a.classList.toggle("continued", continued);
  }

  function decorateAll(box) {
    messageArticles(box).forEach(decorate);
    // Dividers are presentation only: drop any left without a message below.
    for (const el of [...box.children]) {
      if (isDivider(el) && !isMessage(el.nextElementSibling)) el.remove();
    }
  }

  function relabelDividers() {
    for (const div of document.querySelectorAll(".day-divider[data-ts]")) {
      div.firstElementChild.textContent = dayLabel(new Date(div.dataset.ts));
    }
  }

  /* ---------- 4. dedupe and order ---------- */
  // The sender gets each message twice (HTTP reply + socket): keep the copy
  // that was on the page first and drop the newcomer.
  function dropDuplicates(box, added) {
    const seen = new Map();
    for (const el of messageArticles(box)) {
      if (!el.id) continue;
      const first = seen.get(el.id);
      if (!first) { seen.set(el.id, el); continue; }
      const drop = added.has(el) ? el : added.has(first) ? first : el;
      if (drop === first) seen.set(el.id, el);
      drop.remove();
      added.delete(drop);
    }
  }

  // Returns true when it had to reorder (then everything is redecorated).
  function ensureSorted(box) {
    const list = messageArticles(box);
    const key = (a) => { const n = messageId(a); return isNaN(n) ? Number.MAX_SAFE_INTEGER : n; };
    if (list.every((a, i) => i === 0 || key(list[i - 1]) <= key(a))) return false;
    list.sort((a, b) => key(a) - key(b));
    box.append(...list); // moves; stale dividers are cleaned by decorateAll
    return true;
  }

  /* ---------- 6. scrolling ---------- */
  const scroll = { stick: true, top: 0, height: 0, pill: null };

  function remember(h) {
    scroll.top = h.scrollTop;
    scroll.height = h.scrollHeight;
    scroll.stick = h.scrollHeight - h.scrollTop - h.clientHeight <= NEAR_BOTTOM_PX;
  }
  function scrollToBottom(h, smooth) {
    const behavior = smooth && !reducedMotion.matches ? "smooth" : "auto";
    h.scrollTo({ top: h.scrollHeight, behavior });
    if (behavior === "auto") remember(h);
    scroll.stick = true;
    showPill(false);
  }
  function showPill(on) {
    if (scroll.pill) scroll.pill.hidden = !on;
  }
  function makePill(h) {
    const wrap = document.createElement("div");
    wrap.className = "new-messages";
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "new-messages-pill";
    btn.textContent = "New messages ↓";
    btn.hidden = true;
    btn.addEventListener("click", () => scrollToBottom(h, true));
    wrap.append(btn);
    h.append(wrap);
    scroll.pill = btn;
  }

  // After a change: follow the bottom if the reader was there and something
  // arrived below; otherwise keep the same messages in view (the browser's
  // own scroll anchoring is off in CSS because it misses the scrollTop=0
  // case, which is exactly where "Load older" is clicked).
  function settleScroll(h, box, appended) {
    if (appended.length && scroll.stick) { scrollToBottom(h); return; }
    let below = 0;
    if (appended.length) {
      // offset* ignore transforms (the arrival animation slides messages in)
      let first = appended[0];
      if (isDivider(first.previousElementSibling)) first = first.previousElementSibling;
      const before = first.previousElementSibling;
      const last = appended[appended.length - 1];
      below = last.offsetTop + last.offsetHeight - (before ? before.offsetTop + before.offsetHeight : first.offsetTop);
    }
    const delta = h.scrollHeight - scroll.height - below;
    if (Math.abs(delta) > 0.5) h.scrollTop = scroll.top + delta;
    remember(h);
    if (appended.length && !scroll.stick) showPill(true);
  }

  /* ---------- 4-6 together: one observer over #history ---------- */
  const seenMax = { id: 0 };

  function collectMessages(node, into) {
    if (node.nodeType !== 1) return;
    if (isMessage(node)) into.add(node);
    else node.querySelectorAll("article.message").forEach((a) => into.add(a));
  }

  function onHistoryChange(records, h) {
    const box = document.getElementById("messages");
    if (!box) return;
    const added = new Set();
    let removed = false;
    for (const r of records) {
      r.addedNodes.forEach((n) => collectMessages(n, added));
      r.removedNodes.forEach((n) => {
        if (isMessage(n) || (n.nodeType === 1 && n.querySelector("article.message"))) removed = true;
      });
    }
    for (const a of [...added]) {
      if (!a.isConnected) added.delete(a);
      // e.g. older messages swapped into #older instead of #messages
      else if (a.parentElement !== box) box.append(a);
    }

    if (added.size || removed) {
      dropDuplicates(box, added);
      const resorted = ensureSorted(box);
      if (resorted || removed) {
        decorateAll(box);
      } else {
        const touched = new Set();
        for (const a of added) {
          touched.add(a);
          let n = a.nextElementSibling;
          while (n && !isMessage(n)) n = n.nextElementSibling;
          if (n) touched.add(n);
        }
        messageArticles(box).filter((a) => touched.has(a)).forEach(decorate);
      }
    }

    const appended = messageArticles(box).filter((a) => added.has(a) && messageId(a) > seenMax.id);
    appended.forEach((a) => a.classList.add("is-new"));
    seenMax.id = Math.max(seenMax.id, maxMessageId());
    settleScroll(h, box, appended);
    if (appended.length) {
      onArrivals(appended);
      reportRead();
    }
  }

  function initHistory() {
    const h = document.getElementById("history");
    const box = document.getElementById("messages");
    if (!h || !box) return;
    decorateAll(box);
    makePill(h);
    seenMax.id = maxMessageId();
    scrollToBottom(h);

    h.addEventListener("scroll", () => {
      remember(h);
      if (scroll.stick) showPill(false);
    }, { passive: true });
    // The composer growing or the window resizing shrinks #history.
    new ResizeObserver(() => { if (scroll.stick) scrollToBottom(h); else remember(h); }).observe(h);
    box.addEventListener("animationend", (e) => e.target.classList.remove("is-new"));

    const observer = new MutationObserver((records) => {
      onHistoryChange(records, h);
      observer.takeRecords(); // our own edits are not news
    });
    observer.observe(h, { childList: true, subtree: true });
    // Fonts or late layout may change heights after first paint.
    window.addEventListener("load", () => { if (scroll.stick) scrollToBottom(h); });
    // "Today" becomes "Yesterday" at midnight without a reload.
    let today = dayKey(new Date());
    setInterval(() => {
      if (dayKey(new Date()) !== today) { today = dayKey(new Date()); relabelDividers(); }
    }, 60000);
  }

  /* ---------- 7 & 8. composer and typing ---------- */
  function sendTyping() {
    const now = Date.now();
    const s = live.connection && live.connection.socket;
    if (now - sendTyping.last < TYPING_EVERY_MS || !s || s.readyState !== WebSocket.OPEN) return;
    sendTyping.last = now;
    try { s.send(JSON.stringify({ type: "typing" })); } catch (_) { /* socket just died */ }
  }
  sendTyping.last = 0;

  function autoGrow(t) {
    const cs = getComputedStyle(t);
    const lh = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.4;
    const chrome = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom) +
      parseFloat(cs.borderTopWidth) + parseFloat(cs.borderBottomWidth);
    const max = lh * 8 + chrome;
    t.style.height = "auto";
    const want = t.scrollHeight + parseFloat(cs.borderTopWidth) + parseFloat(cs.borderBottomWidth);
    t.style.height = Math.min(want, max) + "px";
    t.style.overflowY = want > max ? "auto" : "hidden";
  }

  function initComposer() {
    const form = document.getElementById("composer");
    const input = document.getElementById("composer-body");
    if (!form || !input) return;
    let submitted = null;

    input.addEventListener("keydown", (e) => {
      // keyCode 229: some IMEs report their Enter this way instead of isComposing
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      if (!isBlank(input.value)) form.requestSubmit();
    });
    input.addEventListener("input", () => {
      autoGrow(input);
      if (!isBlank(input.value)) sendTyping();
    });
    // htmx ignores defaultPrevented on submit, so refuse blank posts here,
    // and a second Enter while the first post is in flight (a double send).
    form.addEventListener("htmx:config:request", (e) => {
      if (isBlank(input.value) || submitted !== null) { e.preventDefault(); return; }
      submitted = input.value;
    });
    form.addEventListener("htmx:after:request", (e) => {
      const status = e.detail && e.detail.ctx && e.detail.ctx.response && e.detail.ctx.response.status;
      if (!(status >= 200 && status < 300)) return;
      // Keep anything typed while the post was in flight.
      const v = input.value;
      input.value = submitted !== null && v.startsWith(submitted) ? v.slice(submitted.length).replace(/^\n/, "") : v;
      sendTyping.last = 0;
      scroll.stick = true; // show the reader their own message
      autoGrow(input);
      input.focus({ preventScroll: true });
    });
    // Errors that carry no #composer-error fragment (500, 403, network).
    form.addEventListener("htmx:finally:request", (e) => {
      submitted = null;
      const ctx = (e.detail && e.detail.ctx) || {};
      const status = ctx.response && ctx.response.status;
      const networkError = !ctx.response && /^error/.test(ctx.status || "") && !/Abort/.test(ctx.status);
      const failed = status >= 400 || networkError;
      const err = document.getElementById("composer-error");
      if (failed && err && isBlank(err.textContent)) {
        err.textContent = status ? `Couldn't send your message (error ${status}). Please try again.`
          : "Couldn't send your message. Check your connection and try again.";
      }
    });

    autoGrow(input);
    // Desktop readers come here to type; on touch screens it would pop the keyboard.
    if (window.matchMedia("(pointer: fine)").matches && !location.hash) input.focus({ preventScroll: true });
  }

  /* ---------- 9. sidebar drawer ---------- */
  function initSidebar() {
    const btn = $(".sidebar-toggle");
    const bar = document.getElementById("sidebar");
    if (!btn) return;
    if (!bar) { btn.hidden = true; return; }
    if (!bar.hasAttribute("tabindex")) bar.tabIndex = -1;
    const isOpen = () => document.body.classList.contains("sidebar-open");
    const setOpen = (open) => {
      document.body.classList.toggle("sidebar-open", open);
      btn.setAttribute("aria-expanded", String(open));
      // Focus the drawer itself: screen readers announce it, Tab enters its links.
      if (open) bar.focus({ preventScroll: true });
    };
    btn.addEventListener("click", () => setOpen(!isOpen()));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && isOpen()) { setOpen(false); btn.focus(); }
    });
    // A tap on the dimmed page beside the drawer closes it.
    document.addEventListener("click", (e) => {
      if (isOpen() && !bar.contains(e.target) && !btn.contains(e.target)) setOpen(false);
    });
  }

  /* ---------- 10. unread count in the title ---------- */
  function updateTitle() {
    let n = 0;
    for (const b of document.querySelectorAll("#sidebar .unread-badge")) {
      n += Math.max(0, parseInt(b.dataset.count, 10) || 0);
    }
    const base = document.title.replace(/^\(\d+\) /, "");
    const want = n > 0 ? `(${n}) ${base}` : base;
    if (document.title !== want) document.title = want;
  }

  /* ---------- 11. notifications ---------- */
  const canNotify = () => "Notification" in window;

  function initNotifications() {
    if (!canNotify() || !document.body.dataset.userId) return;
    let btn = document.getElementById("enable-notifications");
    const menu = $(".user-menu");
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
      menu.insertBefore(btn, $(".logout", menu));
    }
    if (!btn) return;
    const sync = () => { btn.hidden = Notification.permission !== "default"; };
    btn.addEventListener("click", async () => {
      try { await Notification.requestPermission(); } catch (_) { /* old API or blocked */ }
      sync();
    });
    sync();
  }

  /** Shows a desktop notification when the person is looking elsewhere. */
  function notify(title, body, url, conversationId) {
    if (!title || !canNotify() || Notification.permission !== "granted") return;
    if (focused()) return;
    try {
      const n = new Notification(title, { body: body || "", tag: "hearth-" + (conversationId || "") });
      n.addEventListener("click", () => {
        window.focus();
        n.close();
        if (url && /^\/(?!\/)/.test(url)) location.assign(url); // same-site paths only
      });
    } catch (_) { /* e.g. Android Chrome wants a service worker */ }
  }

  /* ---------- 13. live events: badges, sidebar order, notifications ---------- */
  // The server sends one `.live-event` for every member of a conversation who is
  // on another page (see src/live/fragments.rs); per-viewer decisions are made here.
  const me = () => document.body.dataset.userId || "";
  const focused = () => document.hasFocus() && !document.hidden;

  function currentConversation() {
    const main = $("main.conversation[data-conversation-id]");
    return main ? main.dataset.conversationId : null;
  }

  function setBadge(badge, n) {
    badge.dataset.count = String(n);
    badge.textContent = n > 0 ? String(n) : "";
    badge.setAttribute("aria-label", `${n} unread`);
  }

  function bumpBadge(conversationId) {
    const badge = document.getElementById("unread-" + conversationId);
    if (badge) setBadge(badge, (parseInt(badge.dataset.count, 10) || 0) + 1);
  }

  /** Moves the conversation to the top of its sidebar list, adding it from the
   * event's template when it is not there; answers "added", "moved" or "". */
  function moveToTop(conversationId, kind, template) {
    const list = document.getElementById(kind === "direct" ? "sidebar-direct" : "sidebar-rooms");
    if (!list) return "";
    let item = list.querySelector(`li[data-conversation-id="${CSS.escape(conversationId)}"]`);
    if (!item) {
      if (!template || !template.content.firstElementChild) return "";
      list.prepend(template.content.firstElementChild.cloneNode(true));
      return "added";
    }
    if (list.firstElementChild !== item) list.prepend(item);
    return "moved";
  }

  function onLiveEvent(event) {
    const d = event.dataset;
    event.remove();
    if (d.event !== "message") return;
    const mine = d.authorId === me();
    // The author's other pages only reorder: the template names the author.
    const placed = moveToTop(d.conversationId, d.kind, mine ? null : event.querySelector("template"));
    if (!mine) {
      if (placed !== "added") bumpBadge(d.conversationId); // a new entry shows 1 already
      if (d.kind === "direct") notify(d.title, d.body, d.url, d.conversationId);
    }
    updateTitle();
  }

  /** New messages on the conversation being shown: while the window is not
   * focused they count as unread here too, and private ones notify. */
  function onArrivals(articles) {
    const id = currentConversation();
    const main = $("main.conversation");
    if (!id || !main) return;
    const theirs = articles.filter((a) => a.dataset.authorId !== me());
    const item = document.querySelector(`#sidebar li[data-conversation-id="${CSS.escape(id)}"]`);
    if (item && item.parentElement && item.parentElement.firstElementChild !== item) item.parentElement.prepend(item);
    if (!theirs.length || focused()) return;
    for (let i = 0; i < theirs.length; i++) bumpBadge(id);
    updateTitle();
    if (main.dataset.kind === "direct") {
      const last = theirs[theirs.length - 1];
      const body = $(".message-body", last);
      notify(last.dataset.author, body ? body.textContent.slice(0, 140) : "", location.pathname, id);
    }
  }

  /** Two ticks on my messages the other person has read (private chats). */
  function applyReceipts() {
    const mark = $(".peer-read[data-up-to]");
    if (!mark) return;
    const upTo = parseInt(mark.dataset.upTo, 10) || 0;
    for (const a of document.querySelectorAll(`#messages article.message[data-author-id="${CSS.escape(me())}"]`)) {
      const isRead = messageId(a) <= upTo;
      a.classList.toggle("is-read", isRead);
      const receipt = $(".receipt", a);
      if (receipt) receipt.title = isRead ? "Read" : "Sent";
    }
  }

  function watchBody() {
    new MutationObserver((records) => {
      let receipts = false;
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          if (n.matches(".live-event")) onLiveEvent(n);
          else if (n.firstElementChild) n.querySelectorAll(".live-event").forEach(onLiveEvent);
          if (n.matches(".peer-read, article.message")) receipts = true;
        }
      }
      if (receipts) applyReceipts();
      updateTitle();
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-count"] });
  }

  /* ---------- 12. read receipts ---------- */
  const read = { sent: 0, at: 0, timer: 0 };

  function csrfToken() {
    const b = document.body;
    const raw = b.getAttribute("hx-headers:inherited") || b.getAttribute("hx-headers");
    try { return JSON.parse(raw)["X-CSRF-Token"] || ""; } catch (_) { /* fall through */ }
    const field = $('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function reportRead() {
    const main = $("main.conversation[data-conversation-id]");
    if (!main || document.hidden || !document.hasFocus()) return;
    const upTo = maxMessageId();
    if (!upTo || upTo <= read.sent) return;
    const wait = read.at + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      if (!read.timer) read.timer = setTimeout(() => { read.timer = 0; reportRead(); }, wait);
      return;
    }
    read.sent = upTo;
    read.at = Date.now();
    const headers = { "Content-Type": "application/x-www-form-urlencoded" };
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    fetch(`/conversations/${encodeURIComponent(main.dataset.conversationId)}/read`, {
      method: "POST", headers, credentials: "same-origin",
      body: new URLSearchParams({ up_to: String(upTo) }),
    }).catch(() => { /* best effort: the next message or focus retries */ });
  }

  /* ---------- start ---------- */
  // htmx starts itself with setTimeout() when the document is no longer
  // "loading", which is always the case for deferred scripts. That timer can
  // fire before hx-ws (or this file) has run, leaving #live unprocessed or
  // already connected without us. Repair both cases; htmx.process() is a
  // no-op for elements hx-ws has already initialised.
  function ensureSocket() {
    const owners = document.querySelectorAll("[hx-ws\\:connect], [data-hx-ws\\:connect]");
    const status = document.getElementById("connection-status");
    // A page without a socket (e.g. an error page) has nothing to connect.
    if (status && !owners.length) status.hidden = true;
    if (!window.htmx || !owners.length) return;
    const run = () => owners.forEach((el) => {
      htmx.process(el);
      const conn = el._htmx && el._htmx.ws && el._htmx.ws.connection;
      if (conn && conn.socket && conn.socket.readyState === WebSocket.OPEN && !live.connection) {
        live.connection = conn;
        setConnectionState("connected", "Connected");
      }
    });
    // After htmx's own start-up timer, so the normal path wins when it can.
    setTimeout(run, 0);
  }

  function init() {
    ensureSocket();
    initHistory();
    initComposer();
    initSidebar();
    initNotifications();
    updateTitle();
    watchBody();
    applyReceipts();
    window.addEventListener("focus", reportRead);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) reportRead(); });
    // A backstop for a focus event the page never got (focus that arrived while the
    // page was still loading, a window manager that does not send one): a check
    // every few seconds, which does nothing unless there is something new to report.
    setInterval(reportRead, 3 * READ_EVERY_MS);
    reportRead();
  }

  window.hearth = { live, scroll, read, reportRead, decorateAll, maxMessageId };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
