/* The support widget's frame (assets/js/widget-frame.js), inside /widget/{key}.
 *
 * Owns: keeping the visitor's token in the frame's storage (for browsers that block
 * the frame's cookie) and bringing the conversation back from it; telling the host
 * page (through widget.js) of each new message and whose it is; scrolling to the
 * latest message.
 * Must not: post messages to any window but the parent, to any origin but the one
 * the server named (`data-host-origin`), or show a message the socket did not bring.
 */
(() => {
  "use strict";
  const body = document.body;
  const key = body.dataset.site;
  const host = body.dataset.hostOrigin;
  const me = body.dataset.userId || "";
  const slot = "hearth-guest-" + key;
  const store = (() => { try { return window.localStorage; } catch (_) { return null; } })();
  const tab = (() => { try { return window.sessionStorage; } catch (_) { return null; } })();
  const tell = (data) => { if (window.parent !== window && host) window.parent.postMessage(data, host); };

  const token = body.dataset.guestToken;
  if (token) {
    try { store && store.setItem(slot, token); } catch (_) { /* storage full or blocked */ }
  } else {
    const kept = store && store.getItem(slot);
    const start = document.getElementById("widget-start");
    if (kept && start && tab && !tab.getItem(slot + "-tried")) {
      // Once per tab: a token the server no longer knows leaves the start form.
      tab.setItem(slot + "-tried", "1");
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/widget/" + encodeURIComponent(key) + "/resume";
      form.hidden = true;
      const field = (name) => (start.querySelector('[name="' + name + '"]') || {}).value || "";
      for (const [name, value] of [["guest", kept], ["host", host], ["page", field("page")],
        ["uid", field("uid")], ["uhash", field("uhash")]]) {
        const input = document.createElement("input");
        input.type = "hidden"; input.name = name; input.value = value;
        form.appendChild(input);
      }
      body.appendChild(form);
      form.submit();
      return;
    }
  }
  if (token && tab) tab.removeItem(slot + "-tried");

  const messages = document.getElementById("messages");
  const history = document.getElementById("history");
  const toEnd = () => { if (history) history.scrollTop = history.scrollHeight; };
  toEnd();
  if (messages) {
    const seen = new Set([...messages.querySelectorAll("article.message[id]")].map((a) => a.id));
    new MutationObserver(() => {
      for (const a of messages.querySelectorAll("article.message[id]")) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        const text = ((a.querySelector(".message-body") || {}).textContent || "").trim();
        tell({ hearth: "message", text, authorKind: a.dataset.authorId === me ? "visitor" : "operator" });
      }
      toEnd();
    }).observe(messages, { childList: true, subtree: true });
  }
  window.addEventListener("message", (e) => {
    if (e.source !== window.parent || e.origin !== host) return;
    if (e.data && e.data.hearth === "opened") {
      const input = document.getElementById("composer-body") || document.getElementById("widget-first");
      if (input) input.focus();
    }
  });
  tell({ hearth: "ready" });
})();
