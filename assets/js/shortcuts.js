/* Keyboard shortcuts (assets/js/shortcuts.js): `/` puts the cursor in the header's
 * search box, from anywhere on a page except while typing in a field.
 *
 * Owns: the document's keydown for shortcuts of its own, nothing else.
 */
(() => {
  "use strict";

  /** Whether a key pressed now is typed into something (a field, an editable area). */
  function typing(target) {
    if (!target || target.nodeType !== 1) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key !== "/" || typing(e.target)) return;
    const box = document.getElementById("search-box");
    if (!box) return;
    e.preventDefault();
    box.focus();
    box.select();
  });
})();
