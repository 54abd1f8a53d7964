/* A conversation's history (assets/js/history.js): how messages are presented, and
 * where the reader is scrolled.
 *
 * Owns: local times, day dividers, "continued" runs of one author, letter avatars,
 * following the bottom, keeping the view still when older messages load above,
 * opening at the first unread message, and the pill that jumps to the latest (it
 * says "New messages" when some came while the reader was away). Tells the other behaviours of new arrivals
 * (`hearth.emit("arrivals", articles)`).
 * Must not: add, drop or reorder messages: what the server sends is what is shown.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const NEAR_BOTTOM_PX = 80;          // "reader is at the bottom" tolerance
  const CONTINUE_MS = 5 * 60 * 1000;  // same author within 5 min = one run
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const isDivider = (n) => n && n.nodeType === 1 && n.classList.contains("day-divider");
  const articles = (box) => (box ? [...box.children].filter(h.isMessage) : []);

  /* ---------- presentation ---------- */
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
    let n = 0;
    for (const ch of String(key)) n = (n * 31 + ch.codePointAt(0)) >>> 0;
    return Math.round((n * 137.508) % 360);
  }
  function ensureAvatar(a) {
    if (a.firstElementChild && a.firstElementChild.classList.contains("avatar")) return;
    const name = (a.dataset.author || (h.$(".author", a) || {}).textContent || "?").trim();
    const av = document.createElement("span");
    av.className = "avatar";
    av.setAttribute("aria-hidden", "true");
    av.textContent = ([...name][0] || "?").toUpperCase();
    av.style.setProperty("--hue", String(hueFor(a.dataset.authorId || name)));
    a.prepend(av);
  }

  // One message against the message above it: divider, run, time.
  function decorate(a) {
    const d = messageDate(a);
    if (d) localizeTime(a, d);
    ensureAvatar(a);

    const dividers = [];
    let p = a.previousElementSibling;
    while (isDivider(p)) { dividers.push(p); p = p.previousElementSibling; }
    const prev = h.isMessage(p) ? p : null;
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
    articles(box).forEach(decorate);
    // Dividers are presentation only: drop any left without a message below.
    for (const el of [...box.children]) {
      if (isDivider(el) && !h.isMessage(el.nextElementSibling)) el.remove();
    }
  }

  function relabelDividers() {
    for (const div of document.querySelectorAll(".day-divider[data-ts]")) {
      div.firstElementChild.textContent = dayLabel(new Date(div.dataset.ts));
    }
  }

  /* ---------- scrolling ---------- */
  const scroll = { stick: true, top: 0, height: 0, pill: null };
  h.scroll = scroll;

  function remember(el) {
    scroll.top = el.scrollTop;
    scroll.height = el.scrollHeight;
    scroll.stick = el.scrollHeight - el.scrollTop - el.clientHeight <= NEAR_BOTTOM_PX;
  }
  function scrollToBottom(el, smooth) {
    const behavior = smooth && !reducedMotion.matches ? "smooth" : "auto";
    el.scrollTo({ top: el.scrollHeight, behavior });
    if (behavior === "auto") remember(el);
    scroll.stick = true;
    showPill(false);
  }
  function showPill(on, news) {
    if (!scroll.pill) return;
    if (!on) scroll.unseen = false;
    if (news) scroll.unseen = true;
    scroll.pill.hidden = !on;
    scroll.pill.textContent = scroll.unseen ? "New messages ↓" : "Jump to latest ↓";
  }
  function makePill(el) {
    const wrap = document.createElement("div");
    wrap.className = "new-messages";
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "new-messages-pill";
    btn.textContent = "New messages ↓";
    btn.hidden = true;
    btn.addEventListener("click", () => scrollToBottom(el, true));
    wrap.append(btn);
    el.append(wrap);
    scroll.pill = btn;
  }

  // After a change: follow the bottom if the reader was there and something arrived
  // below; otherwise keep the same messages in view (the browser's own scroll
  // anchoring is off in CSS because it misses the scrollTop=0 case, which is exactly
  // where "Load older" is clicked).
  function settleScroll(el, appended) {
    if (appended.length && scroll.stick) { scrollToBottom(el); return; }
    let below = 0;
    if (appended.length) {
      // offset* ignore transforms (the arrival animation slides messages in)
      let first = appended[0];
      if (isDivider(first.previousElementSibling)) first = first.previousElementSibling;
      const before = first.previousElementSibling;
      const last = appended[appended.length - 1];
      below = last.offsetTop + last.offsetHeight - (before ? before.offsetTop + before.offsetHeight : first.offsetTop);
    }
    const delta = el.scrollHeight - scroll.height - below;
    if (Math.abs(delta) > 0.5) el.scrollTop = scroll.top + delta;
    remember(el);
    if (!scroll.stick) showPill(true, appended.length > 0);
  }

  /* ---------- one observer over #history ---------- */
  let newest = 0;

  function collect(node, into) {
    if (node.nodeType !== 1) return;
    if (h.isMessage(node)) into.add(node);
    else node.querySelectorAll("article.message").forEach((a) => into.add(a));
  }

  function onChange(records, el) {
    const box = document.getElementById("messages");
    if (!box) return;
    const added = new Set();
    let removed = false;
    for (const r of records) {
      r.addedNodes.forEach((n) => collect(n, added));
      r.removedNodes.forEach((n) => {
        if (h.isMessage(n) || (n.nodeType === 1 && n.querySelector("article.message"))) removed = true;
      });
    }
    if (removed) {
      decorateAll(box);
    } else if (added.size) {
      const touched = new Set();
      for (const a of added) {
        touched.add(a);
        let n = a.nextElementSibling;
        while (n && !h.isMessage(n)) n = n.nextElementSibling;
        if (n) touched.add(n);
      }
      articles(box).filter((a) => touched.has(a)).forEach(decorate);
    }
    // New below what was there: arrivals. (Older pages and replaced messages are not.)
    const appended = articles(box).filter((a) => added.has(a) && h.messageId(a) > newest);
    appended.forEach((a) => a.classList.add("is-new"));
    newest = Math.max(newest, h.maxMessageId());
    settleScroll(el, appended);
    if (appended.length) h.emit("arrivals", appended);
  }

  h.ready(() => {
    const el = document.getElementById("history");
    const box = document.getElementById("messages");
    if (!el || !box) return;
    decorateAll(box);
    makePill(el);
    newest = h.maxMessageId();
    // A permalink's page opens at its message (the browser scrolls to the #fragment).
    if (!location.hash) scrollToBottom(el);
    else remember(el);

    // A page that opens with unread messages opens at the first of them.
    const first = el.dataset.firstUnread && document.getElementById("message-" + el.dataset.firstUnread);
    if (first) {
      first.scrollIntoView({ block: "start" });
      el.scrollTop = Math.max(0, el.scrollTop - 48);
      remember(el);
      if (!scroll.stick) showPill(true, true);
    }

    el.addEventListener("scroll", () => {
      remember(el);
      showPill(!scroll.stick);
    }, { passive: true });
    // The composer growing or the window resizing shrinks #history.
    new ResizeObserver(() => { if (scroll.stick) scrollToBottom(el); else remember(el); }).observe(el);
    box.addEventListener("animationend", (e) => e.target.classList.remove("is-new"));

    const observer = new MutationObserver((records) => {
      onChange(records, el);
      observer.takeRecords(); // our own edits are not news
    });
    observer.observe(el, { childList: true, subtree: true });
    // Fonts or late layout may change heights after first paint.
    window.addEventListener("load", () => { if (scroll.stick && !first) scrollToBottom(el); });
    // "Today" becomes "Yesterday" at midnight without a reload.
    let today = dayKey(new Date());
    setInterval(() => {
      if (dayKey(new Date()) !== today) { today = dayKey(new Date()); relabelDividers(); }
    }, 60000);
  });
})();
