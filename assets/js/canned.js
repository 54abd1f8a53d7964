/* Canned replies in a visitor's conversation (assets/js/canned.js): typing `/` and
 * the start of a shortcut as the whole message lists the site's replies (read from
 * the page's #canned-replies list); Up and Down move, Enter or Tab puts the reply
 * in the composer, Escape closes; a click picks too.
 *
 * Owns: the reply box above the composer. Must not: send anything: the operator
 * reads the reply, changes it if need be, and sends it.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const TYPED = /^\/([A-Za-z0-9_-]{0,32})$/;

  h.ready(() => {
    const input = document.getElementById("composer-body");
    const kept = document.getElementById("canned-replies");
    if (!input || !kept) return;
    const replies = [...kept.querySelectorAll(".canned-reply")].map((li) => ({
      shortcut: li.dataset.shortcut || "",
      body: li.dataset.body || "",
    }));
    const box = document.createElement("div");
    box.id = "canned-suggest";
    box.className = "mention-suggest canned-suggest";
    box.setAttribute("role", "listbox");
    box.setAttribute("aria-label", "Canned replies");
    box.hidden = true;
    input.closest("form").prepend(box);

    const options = () => [...box.querySelectorAll(".mention-option")];
    const selected = () => box.querySelector('.mention-option[aria-selected="true"]');
    const open = () => !box.hidden && options().length > 0;

    function close() {
      box.hidden = true;
      box.replaceChildren();
    }

    function select(option) {
      for (const o of options()) o.setAttribute("aria-selected", o === option ? "true" : "false");
      if (option) option.scrollIntoView({ block: "nearest" });
    }

    function suggest() {
      const m = TYPED.exec(input.value.slice(0, input.selectionStart));
      if (!m || input.value.length !== input.selectionStart) return close();
      const start = m[1].toLowerCase();
      const found = replies.filter((r) => r.shortcut.startsWith(start)).slice(0, 20);
      if (found.length === 0) return close();
      box.replaceChildren(...found.map((r, i) => {
        const option = document.createElement("div");
        option.className = "mention-option canned-option";
        option.id = "canned-option-" + i;
        option.setAttribute("role", "option");
        option.dataset.body = r.body;
        const name = document.createElement("span");
        name.className = "mention-name";
        name.textContent = "/" + r.shortcut;
        option.append(name, " ", r.body);
        return option;
      }));
      box.hidden = false;
      select(options()[0]);
    }

    function pick(option) {
      if (!option) return close();
      input.value = option.dataset.body;
      input.setSelectionRange(input.value.length, input.value.length);
      close();
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
    }

    input.addEventListener("input", suggest);
    input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
    // Registered before the composer's own keys (this file loads first).
    input.addEventListener("keydown", (e) => {
      if (!open()) return;
      const all = options();
      const i = all.indexOf(selected());
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        select(all[(i + (e.key === "ArrowDown" ? 1 : -1) + all.length) % all.length]);
      } else if ((e.key === "Enter" && !e.shiftKey && !e.isComposing) || e.key === "Tab") {
        pick(selected() || all[0]);
      } else if (e.key === "Escape") {
        close();
      } else {
        return;
      }
      e.preventDefault();
      e.stopImmediatePropagation();
    });
    box.addEventListener("mousedown", (e) => {
      const option = e.target.closest(".mention-option");
      if (!option) return;
      e.preventDefault();
      pick(option);
    });
  });
})();
