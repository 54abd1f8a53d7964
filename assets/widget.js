/* hearth's support widget, for the pages of other sites (served as /widget.js).
 *
 *   <script src="https://HEARTH/widget.js" data-site="KEY" async></script>
 *
 * Owns: the launcher button with its unread badge, the frame it opens (hearth's
 * /widget/{key}, where the conversation lives), the host page's events
 * (`hearth:open`, `hearth:close`, `hearth:message` on `document`) and
 * `window.Hearth.open()` / `.close()`.
 * Must not: read or change anything of the host page but its own elements, use
 * the host's storage or cookies, or trust a message that is not from the frame.
 */
(() => {
  "use strict";
  const script = document.currentScript ||
    document.querySelector('script[src*="/widget.js"][data-site]');
  if (!script || window.Hearth) return;
  const key = script.dataset.site;
  const base = new URL(script.src, location.href).origin;
  const side = script.dataset.position === "left" ? "left" : "right";
  const color = /^#[0-9a-f]{6}$/i.test(script.dataset.color || "") ? script.dataset.color : "#d9582b";
  let frame = null;
  let open = false;
  let unread = 0;

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "hearth-launcher";
  launcher.setAttribute("aria-label", "Chat with us");
  launcher.setAttribute("aria-expanded", "false");
  Object.assign(launcher.style, {
    position: "fixed", bottom: "20px", [side]: "20px", width: "56px", height: "56px",
    borderRadius: "50%", border: "0", background: color, color: "#fff", fontSize: "26px",
    cursor: "pointer", boxShadow: "0 4px 14px rgba(0,0,0,.25)", zIndex: "2147483000",
  });
  launcher.textContent = "💬";
  const badge = document.createElement("span");
  badge.id = "hearth-unread";
  Object.assign(badge.style, {
    position: "absolute", top: "-4px", right: "-4px", minWidth: "20px", height: "20px",
    borderRadius: "10px", background: "#c62828", color: "#fff", font: "bold 12px/20px sans-serif",
    display: "none", padding: "0 5px",
  });
  launcher.appendChild(badge);

  function setUnread(n) {
    unread = n;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.style.display = n > 0 ? "block" : "none";
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent("hearth:" + name, { detail }));
  }

  function makeFrame() {
    const u = new URL(base + "/widget/" + encodeURIComponent(key));
    u.searchParams.set("host", location.origin);
    u.searchParams.set("page", location.href.slice(0, 500));
    if (script.dataset.userId && script.dataset.userHash) {
      u.searchParams.set("uid", script.dataset.userId);
      u.searchParams.set("uhash", script.dataset.userHash);
    }
    const f = document.createElement("iframe");
    f.id = "hearth-frame";
    f.title = "Chat";
    f.src = u.href;
    f.allow = "clipboard-write";
    Object.assign(f.style, {
      position: "fixed", bottom: "88px", [side]: "20px", width: "370px", height: "560px",
      maxWidth: "calc(100vw - 40px)", maxHeight: "calc(100vh - 110px)", border: "0",
      borderRadius: "12px", boxShadow: "0 8px 30px rgba(0,0,0,.3)", zIndex: "2147483000",
      background: "#fff", display: "none",
    });
    document.body.appendChild(f);
    return f;
  }

  function show() {
    if (open) return;
    if (!frame) frame = makeFrame();
    frame.style.display = "block";
    open = true;
    launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    if (frame.contentWindow) frame.contentWindow.postMessage({ hearth: "opened" }, base);
    emit("open", {});
  }

  function hide() {
    if (!open) return;
    frame.style.display = "none";
    open = false;
    launcher.setAttribute("aria-expanded", "false");
    if (frame.contentWindow) frame.contentWindow.postMessage({ hearth: "closed" }, base);
    emit("close", {});
  }

  launcher.addEventListener("click", () => (open ? hide() : show()));

  window.addEventListener("message", (e) => {
    if (e.origin !== base || !frame || e.source !== frame.contentWindow) return;
    const d = e.data || {};
    if (d.hearth === "message") {
      if (!open && d.authorKind === "operator") setUnread(unread + 1);
      emit("message", { text: String(d.text || ""), authorKind: d.authorKind === "operator" ? "operator" : "visitor" });
    } else if (d.hearth === "ready" && open) {
      frame.contentWindow.postMessage({ hearth: "opened" }, base);
    } else if (d.hearth === "close") {
      hide();
    }
  });

  window.Hearth = { open: show, close: hide };
  const mount = () => document.body.appendChild(launcher);
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
