/* Keyboard shortcuts (assets/js/shortcuts.js): `/` puts the cursor in the header's
 * search box and `?` opens the list of shortcuts (`#shortcuts-help`), from anywhere on
 * a page except while typing in a field; Alt+↑/↓ open the previous or next
 * conversation of the sidebar, Alt+Shift+↑/↓ the previous or next one with unread
 * messages, from anywhere; Escape marks the conversation read (receipts.js), once the
 * boxes that close on it are closed. Ctrl+K is the switcher's (switcher.js); ↑ in an empty
 * composer edits one's last message (actions.js).
 *
 * Owns: the document's keydown for these keys, nothing else.
 */
(() => {
  "use strict";

  /** Whether a key pressed now is typed into something (a field, an editable area). */
  function typing(target) {
    if (!target || target.nodeType !== 1) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  const count = (el) => (el && parseInt(el.dataset.count, 10)) || 0;
  const unread = (link) => count(link.querySelector(".unread-badge")) + count(link.querySelector(".mention-badge")) > 0;

  /** Opens the conversation `step` (±1) away in the sidebar, the next unread one if
   * `unreadOnly`, going round; nothing when there is none. */
  function go(step, unreadOnly) {
    const links = [...document.querySelectorAll("#sidebar a.conv-link[href]")];
    const n = links.length;
    if (!n) return false;
    const at = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    const start = at >= 0 ? at : step > 0 ? -1 : n;
    for (let i = 1; i <= n; i++) {
      const index = (((start + step * i) % n) + n) % n;
      if (index === at) continue;
      if (!unreadOnly || unread(links[index])) {
        window.location.assign(links[index].href);
        return true;
      }
    }
    return false;
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (e.key === "Escape" && !e.altKey && !e.shiftKey) {
      if (window.hearth && window.hearth.markRead) window.hearth.markRead();
      return;
    }
    if (e.altKey) {
      if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
      e.preventDefault();
      go(e.key === "ArrowDown" ? 1 : -1, e.shiftKey);
      return;
    }
    if (typing(e.target)) return;
    if (e.key === "/") {
      const box = document.getElementById("search-box");
      if (!box) return;
      e.preventDefault();
      box.focus();
      box.select();
    } else if (e.key === "?") {
      const help = document.getElementById("shortcuts-help");
      if (!help) return;
      e.preventDefault();
      help.showModal();
    }
  });
})();
