/* The quick switcher (assets/js/switcher.js): Ctrl+K (⌘K) opens `#switcher`, which
 * finds rooms and people as one types (the list is the server's, from `/switcher`),
 * ↑/↓ choose, Enter opens the chosen one, Escape closes.
 *
 * Owns: `#switcher` and its list. Must not: build the list itself (the server renders
 * it, as it renders every page).
 */
(() => {
  "use strict";
  const dialog = document.getElementById("switcher");
  if (!dialog) return;
  const input = dialog.querySelector("#switcher-q");
  const results = dialog.querySelector("#switcher-results");
  let pending = null;
  let timer = 0;

  const options = () => [...results.querySelectorAll('[role="option"]')];
  const selected = () => results.querySelector('[role="option"][aria-selected="true"]');

  function select(option) {
    for (const o of options()) o.setAttribute("aria-selected", o === option ? "true" : "false");
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function move(step) {
    const all = options();
    if (!all.length) return;
    const at = all.indexOf(selected());
    select(all[(at + step + all.length) % all.length]);
  }

  async function load() {
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const resp = await fetch("/switcher?q=" + encodeURIComponent(input.value), {
        signal: pending.signal, credentials: "same-origin", headers: { "HX-Request": "true" },
      });
      if (!resp.ok) return;
      // A list that comes in after the person moved keeps their choice where it can.
      const href = (o) => o && o.querySelector("a[href]") && o.querySelector("a[href]").getAttribute("href");
      const list = await resp.text();
      // Read after the body is in: a key pressed while it came in has already moved.
      const chosen = href(selected());
      results.innerHTML = list;
      select(options().find((o) => chosen && href(o) === chosen) || selected());
    } catch (_) {
      // Typed over, or offline: the list stays as it was.
    }
  }

  function open() {
    input.value = "";
    results.replaceChildren();
    dialog.showModal();
    input.focus();
    load();
  }

  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || e.key.toLowerCase() !== "k") return;
    e.preventDefault();
    if (dialog.open) dialog.close();
    else open();
  });

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, 80);
  });

  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      move(e.key === "ArrowDown" ? 1 : -1);
    } else if (e.key === "Enter") {
      const link = selected() && selected().querySelector("a[href]");
      if (!link) return; // the form goes to /switcher, a page of the same list
      e.preventDefault();
      window.location.assign(link.href);
    }
  });
})();
