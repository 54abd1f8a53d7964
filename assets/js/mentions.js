/* Mentions in the composer (assets/js/mentions.js): typing `@` and the start of a name
 * lists the people it may mean (the server's fragment from
 * /conversations/{id}/people?q=), members of the conversation first. Up and Down move,
 * Enter or Tab picks, Escape closes; a click picks too.
 *
 * Owns: the suggestion box under the composer. Must not: send anything, or keep the
 * composer's own keys (Enter sends) once the box is shut.
 */
(() => {
  "use strict";
  const h = window.hearth;
  // The `@name` being typed, right before the caret (an `@` inside a word starts none).
  const TYPED = /(^|[^\w@/-])@([A-Za-z0-9_-]{0,32})$/;

  h.ready(() => {
    const input = document.getElementById("composer-body");
    const shown = h.conversation();
    if (!input || !shown) return;
    const box = document.createElement("div");
    box.id = "mention-suggest";
    box.className = "mention-suggest";
    box.hidden = true;
    input.closest("form").prepend(box);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", box.id);
    let asked = "";
    let pending = null;

    const options = () => [...box.querySelectorAll(".mention-option")];
    const selected = () => box.querySelector('.mention-option[aria-selected="true"]');
    const open = () => !box.hidden && options().length > 0;

    function close() {
      box.hidden = true;
      box.replaceChildren();
      asked = "";
      input.removeAttribute("aria-activedescendant");
    }

    function select(option) {
      for (const o of options()) o.setAttribute("aria-selected", o === option ? "true" : "false");
      if (option) {
        input.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    }

    function typed() {
      const before = input.value.slice(0, input.selectionStart);
      const m = TYPED.exec(before);
      return m ? { name: m[2], from: before.length - m[2].length - 1 } : null;
    }

    function pick(option) {
      const at = typed();
      if (!option || !at) return close();
      const name = option.dataset.username;
      const end = input.selectionStart;
      input.value = input.value.slice(0, at.from) + "@" + name + " " + input.value.slice(end);
      const caret = at.from + name.length + 2;
      input.setSelectionRange(caret, caret);
      close();
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
    }

    async function suggest() {
      const at = typed();
      if (!at) return close();
      if (at.name === asked && !box.hidden) return;
      asked = at.name;
      if (pending) pending.abort();
      pending = new AbortController();
      try {
        const url = `/conversations/${encodeURIComponent(shown.id)}/people?q=${encodeURIComponent(at.name)}`;
        const resp = await fetch(url, { signal: pending.signal, credentials: "same-origin", headers: { "HX-Request": "true" } });
        if (!resp.ok) return close();
        const html = await resp.text();
        // The answer is the server's own fragment, made of escaped names.
        box.innerHTML = html;
        box.hidden = false;
        select(selected() || options()[0] || null);
      } catch (_) { /* aborted by the next keystroke, or offline */ }
    }

    input.addEventListener("input", suggest);
    input.addEventListener("click", suggest);
    input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
    // Registered before the composer's own keys (this file loads first), so that Enter
    // picks a name while the box is open instead of sending.
    input.addEventListener("keydown", (e) => {
      if (!open()) return;
      const all = options();
      const i = all.indexOf(selected());
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const step = e.key === "ArrowDown" ? 1 : -1;
        select(all[(i + step + all.length) % all.length]);
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
      e.preventDefault(); // keep the composer's focus
      pick(option);
    });
    close();
  });
})();
