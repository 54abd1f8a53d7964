/* Keyboard shortcuts (assets/js/shortcuts.js): `/` puts the cursor in the header's
 * search box and `?` opens the list of shortcuts (`#shortcuts-help`), from anywhere on
 * a page except while typing in a field. Ctrl+K is the switcher's (switcher.js).
 *
 * Owns: the document's keydown for these two keys, nothing else.
 */
(() => {
  "use strict";

  /** Whether a key pressed now is typed into something (a field, an editable area). */
  function typing(target) {
    if (!target || target.nodeType !== 1) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
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
