/* What a person does with a message (assets/js/actions.js): edit it in place, delete
 * it, react to it, answer it, copy its link.
 *
 * Owns: the message menu's links (each also works as a page without script, see
 * src/chat/actions), the emoji picker, the reply banner of the composer, and the edit
 * box (Escape cancels; Up in an empty composer edits one's last message).
 * Must not: show a change before the server has stored it. The socket brings every
 * change to every page, this one included; a request's own answer only replaces a
 * message this page still shows as it was.
 */
(() => {
  "use strict";
  const h = window.hearth;

  /** The id in a message action's URL (`/messages/12/edit` gives 12). */
  const idOf = (href) => {
    const m = /\/messages\/(\d+)/.exec(href || "");
    return m ? m[1] : null;
  };
  const messageEl = (id) => document.getElementById("message-" + id);

  async function post(url, fields) {
    const headers = { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true" };
    const token = h.csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    return fetch(url, { method: "POST", headers, credentials: "same-origin", body: new URLSearchParams(fields) });
  }

  /** A refused action says why, in the composer's error line. */
  async function say(resp) {
    const err = document.getElementById("composer-error");
    if (!err) return;
    if (resp.ok) { err.textContent = ""; return; }
    const text = await resp.text().catch(() => "");
    const page = new DOMParser().parseFromString(text, "text/html");
    const why = page.querySelector(".form-error, main p:not(.status)");
    err.textContent = (why && why.textContent.trim()) || `That did not work (error ${resp.status}).`;
  }

  /** Replaces message `id` with the one in `html`, unless the socket already has. */
  function refresh(id, html, stillAsItWas) {
    const shown = messageEl(id);
    if (!shown || !stillAsItWas(shown)) return;
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("message-" + id);
    if (fresh) shown.replaceWith(fresh);
  }

  /* ---------- edit ---------- */
  function cancelEdit(form) {
    const body = form.closest(".message-body");
    if (body && body.dataset.original !== undefined) {
      body.innerHTML = body.dataset.original;
      delete body.dataset.original;
    }
  }

  async function startEdit(id) {
    const el = messageEl(id);
    const body = el && h.$(".message-body", el);
    if (!body || body.dataset.original !== undefined) return;
    const resp = await fetch(`/messages/${id}/edit`, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!resp.ok) { say(resp); return; }
    body.dataset.original = body.innerHTML;
    body.innerHTML = await resp.text();
    const form = h.$("form.edit-form", body);
    const input = form && h.$("textarea", form);
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target.closest && e.target.closest("form.edit-form");
    if (!form) return;
    e.preventDefault();
    const id = idOf(form.getAttribute("action"));
    const resp = await post(form.getAttribute("action"), { body: h.$("textarea", form).value });
    if (resp.status === 422) {
      form.outerHTML = await resp.text();
      return;
    }
    say(resp);
    if (resp.ok) refresh(id, await resp.text(), (shown) => shown.contains(form));
  }, true);

  document.addEventListener("keydown", (e) => {
    const form = e.target.closest && e.target.closest("form.edit-form");
    if (form && e.key === "Escape") { e.preventDefault(); cancelEdit(form); return; }
    if (form && e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("click", (e) => {
    const cancel = e.target.closest(".edit-cancel");
    if (cancel) cancelEdit(cancel.closest("form.edit-form"));
  });

  /** Edits the viewer's last message (Up in an empty composer). */
  h.editLast = () => {
    const mine = document.querySelectorAll(`#messages article.message[data-author-id="${CSS.escape(h.me())}"]:not(.deleted)`);
    const last = mine[mine.length - 1];
    if (!last) return false;
    startEdit(h.messageId(last));
    return true;
  };

  /* ---------- reply ---------- */
  function setReply(id) {
    const el = messageEl(id);
    const banner = document.getElementById("composer-reply");
    const field = document.getElementById("composer-reply-to");
    const input = document.getElementById("composer-body");
    if (!el || !banner || !field) return false;
    field.value = id;
    banner.textContent = "";
    const who = document.createElement("strong");
    who.textContent = el.dataset.author || "";
    who.dir = "auto";
    const what = document.createElement("span");
    what.className = "quote-text";
    what.dir = "auto";
    what.textContent = (h.$(".message-body", el) || {}).textContent || "";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "link-button composer-reply-cancel";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => h.clearReply());
    banner.append("Replying to ", who, " ", what, " ", cancel);
    if (input) input.focus();
    return true;
  }

  h.clearReply = () => {
    const banner = document.getElementById("composer-reply");
    const field = document.getElementById("composer-reply-to");
    if (banner) banner.textContent = "";
    if (field) field.value = "";
  };

  /* ---------- reactions ---------- */
  let picker = null;

  function openPicker(id, anchor) {
    if (!picker) {
      picker = document.createElement("div");
      picker.className = "emoji-picker";
      picker.setAttribute("popover", "auto");
      picker.innerHTML = '<div class="emoji-choices"></div><form class="emoji-any"><input name="emoji" maxlength="16" placeholder="Any emoji" aria-label="Any emoji"> <button type="submit">React</button></form>';
      const choices = h.$(".emoji-choices", picker);
      for (const emoji of ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "emoji-choice";
        b.textContent = emoji;
        b.title = "React with " + emoji;
        choices.append(b);
      }
      picker.addEventListener("click", (e) => {
        const b = e.target.closest(".emoji-choice");
        if (b) react(picker.dataset.messageId, b.textContent);
      });
      h.$(".emoji-any", picker).addEventListener("submit", (e) => {
        e.preventDefault();
        const input = h.$("input", picker);
        react(picker.dataset.messageId, input.value);
        input.value = "";
      });
      document.body.append(picker);
    }
    picker.dataset.messageId = id;
    const r = anchor.getBoundingClientRect();
    picker.style.position = "fixed";
    picker.style.margin = "0";
    picker.style.top = Math.max(8, Math.min(window.innerHeight - 140, r.bottom + 4)) + "px";
    picker.style.left = Math.max(8, Math.min(window.innerWidth - 300, r.right - 280)) + "px";
    if (picker.showPopover) picker.showPopover();
    const first = h.$(".emoji-choice", picker);
    if (first) first.focus();
  }

  async function react(id, emoji) {
    if (!id || h.isBlank(emoji)) return;
    if (picker && picker.hidePopover && picker.matches(":popover-open")) picker.hidePopover();
    say(await post(`/messages/${id}/reactions`, { emoji: emoji.trim() }));
  }

  /* ---------- the menu, the chips, the quotes ---------- */
  document.addEventListener("click", async (e) => {
    const chip = e.target.closest("button.reaction");
    if (chip) {
      e.preventDefault();
      react(idOf(chip.getAttribute("formaction")), chip.value);
      return;
    }
    const quote = e.target.closest("a.reply-quote");
    if (quote) {
      const target = messageEl(quote.dataset.messageId);
      if (target) {
        e.preventDefault();
        target.scrollIntoView({ block: "center", behavior: "smooth" });
        target.classList.add("highlighted");
        setTimeout(() => target.classList.remove("highlighted"), 1600);
      }
      return;
    }
    const link = e.target.closest(".menu-items a");
    if (!link) return;
    const href = link.getAttribute("href");
    const id = idOf(href);
    const menu = link.closest("details");
    const done = () => { if (menu) menu.open = false; };
    if (/\/react$/.test(href)) { e.preventDefault(); done(); openPicker(id, menu || link); return; }
    if (/\/reply$/.test(href)) { if (setReply(id)) { e.preventDefault(); done(); } return; }
    if (/\/edit$/.test(href)) { e.preventDefault(); done(); startEdit(id); return; }
    if (/\/delete$/.test(href)) {
      e.preventDefault();
      done();
      if (!window.confirm("Delete this message? Everyone will see that a message was deleted, but not what it said.")) return;
      const resp = await post(`/messages/${id}/delete`, {});
      say(resp);
      if (resp.ok) refresh(id, await resp.text(), (shown) => !shown.classList.contains("deleted"));
      return;
    }
    if (/\/messages\/\d+$/.test(href) && navigator.clipboard) {
      e.preventDefault();
      done();
      try {
        await navigator.clipboard.writeText(new URL(href, location.href).href);
        link.textContent = "Link copied";
        setTimeout(() => { link.textContent = "Copy link"; }, 1500);
      } catch (_) { location.assign(href); }
    }
  });
})();
