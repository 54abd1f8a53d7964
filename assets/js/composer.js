/* The composer (assets/js/composer.js): Enter sends, Shift+Enter breaks the line, the
 * box grows with its text, typing is signalled, and a send that failed says so.
 *
 * Owns: the composer's keyboard (Up in an empty box edits one's last message, see
 * actions.js), its height, typing frames on the socket, and what the box holds around
 * an htmx post.
 * Must not: show the sent message itself: the socket brings it, in order.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const TYPING_EVERY_MS = 2000;
  const MAX_CHARS = 4000; // chat::MessageBody::MAX_CHARS
  let lastTyping = 0;

  function sendTyping() {
    const now = Date.now();
    if (now - lastTyping < TYPING_EVERY_MS) return;
    if (h.send && h.send({ type: "typing" })) lastTyping = now;
  }

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

  h.ready(() => {
    const form = document.getElementById("composer");
    const input = document.getElementById("composer-body");
    if (!form || !input) return;
    let submitted = null;

    input.addEventListener("keydown", (e) => {
      // Up in an empty composer edits one's last message.
      if (e.key === "ArrowUp" && input.value === "" && h.editLast && h.editLast()) {
        e.preventDefault();
        return;
      }
      if (e.key === "Escape" && h.clearReply) h.clearReply();
      // keyCode 229: some IMEs report their Enter this way instead of isComposing
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      if (!h.isBlank(input.value) || (h.hasUploads && h.hasUploads())) form.requestSubmit();
    });
    // Looked up each time: the server's answers replace the element.
    const errorLine = () => document.getElementById("composer-error");
    const say = (text) => { const err = errorLine(); if (err) err.textContent = text; };
    // Characters as the server counts them (an emoji is one), not UTF-16 units as
    // `maxlength` does.
    const tooLong = () => {
      const n = [...input.value.trim()].length;
      return n > MAX_CHARS ? `Messages can be at most ${MAX_CHARS} characters; this one has ${n}.` : "";
    };
    input.addEventListener("input", () => {
      autoGrow(input);
      if (!h.isBlank(input.value)) sendTyping();
      const long = tooLong();
      const err = errorLine();
      if (err && (long || err.dataset.length)) {
        err.textContent = long;
        err.dataset.length = long ? "1" : "";
      }
    });
    // htmx ignores defaultPrevented on submit, so refuse blank posts here, and a
    // second Enter while the first post is in flight (a double send).
    form.addEventListener("htmx:config:request", (e) => {
      if (h.isBlank(input.value) || submitted !== null || tooLong()) { e.preventDefault(); return; }
      submitted = input.value;
    });
    form.addEventListener("htmx:after:request", (e) => {
      const status = e.detail && e.detail.ctx && e.detail.ctx.response && e.detail.ctx.response.status;
      if (!(status >= 200 && status < 300)) return;
      // Keep anything typed while the post was in flight.
      const v = input.value;
      input.value = submitted !== null && v.startsWith(submitted) ? v.slice(submitted.length).replace(/^\n/, "") : v;
      lastTyping = 0;
      if (h.clearReply) h.clearReply();
      if (h.scroll) h.scroll.stick = true; // show the reader their own message
      autoGrow(input);
      input.focus({ preventScroll: true });
    });
    form.addEventListener("htmx:finally:request", (e) => {
      const ctx = (e.detail && e.detail.ctx) || {};
      const status = ctx.response && ctx.response.status;
      const networkError = !ctx.response && /^error/.test(ctx.status || "") && !/Abort/.test(ctx.status);
      const failed = status >= 400 || networkError;
      // A refused message keeps its text, alone: what was typed while it was on its
      // way goes on a line of its own, not onto its end.
      if (failed && submitted !== null && input.value.startsWith(submitted) && input.value !== submitted) {
        input.value = submitted + "\n" + input.value.slice(submitted.length).replace(/^\n/, "");
        autoGrow(input);
      }
      submitted = null;
      // The server says why in #composer-error; only a request that got no answer
      // from it is worded here.
      const current = document.getElementById("composer-error");
      if (failed && current && h.isBlank(current.textContent)) {
        current.textContent = networkError
          ? "Not sent: hearth cannot be reached. Check your connection, then press Enter again."
          : status >= 500 ? `Not sent: hearth had a problem (error ${status}). Try again in a moment.`
            : `Not sent (error ${status}).`;
      }
    });

    autoGrow(input);
    // Desktop readers come here to type; on touch screens it would pop the keyboard.
    if (window.matchMedia("(pointer: fine)").matches && !location.hash) input.focus({ preventScroll: true });
  });
})();
