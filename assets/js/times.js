/* Times as people read them (assets/js/times.js): "5 min ago", "yesterday", a date, in
 * the reader's own time zone, with the exact time on hover.
 *
 * Owns: every `time[data-relative]` (the server writes the same in UTC for pages
 * without script), kept current once a minute.
 */
(() => {
  "use strict";
  const h = window.hearth;
  const dayKey = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;

  function ago(then, now) {
    const minutes = Math.max(0, Math.floor((now - then) / 60000));
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(then) === dayKey(now)) return `${Math.floor(minutes / 60)} h ago`;
    if (dayKey(then) === dayKey(yesterday)) return "yesterday";
    const sameYear = then.getFullYear() === now.getFullYear();
    return then.toLocaleDateString(undefined, sameYear ? { day: "numeric", month: "short" }
      : { day: "numeric", month: "short", year: "numeric" });
  }

  function refresh() {
    const now = new Date();
    for (const t of document.querySelectorAll("time[data-relative][datetime]")) {
      const then = new Date(t.dateTime);
      if (isNaN(then)) continue;
      t.textContent = ago(then, now);
      t.title = then.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
    }
  }

  h.ready(() => {
    refresh();
    setInterval(refresh, 60000);
  });
})();
