/* Uploads (assets/js/uploads.js): files join the composer by its button, by pasting
 * (a screenshot from the clipboard) or by dropping them on the conversation; they are
 * listed under the box, and sent with the message with a progress bar.
 *
 * Owns: the files waiting in the composer, and the post of a message that has files
 * (an XMLHttpRequest, the one browser API that reports upload progress).
 * Must not: show the sent message itself (the socket brings it, in order), or be
 * needed: without it the composer is a plain multipart form and its file input works.
 */
(() => {
  "use strict";
  const h = window.hearth;

  h.ready(() => {
    const form = document.getElementById("composer");
    const input = document.getElementById("composer-body");
    const picker = document.getElementById("composer-files");
    const list = document.getElementById("composer-uploads");
    if (!form || !input || !picker || !list) return;
    form.classList.add("has-uploads-script");
    // Files go by send() below; htmx posts the rest as a plain urlencoded form. The
    // multipart enctype is for pages without script.
    form.removeAttribute("enctype");
    let waiting = [];
    let sending = false;

    const say = (text) => { const err = document.getElementById("composer-error"); if (err) err.textContent = text; };
    const size = (n) => n < 1024 ? `${n} bytes` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`;

    function show() {
      list.replaceChildren();
      waiting.forEach((file, i) => {
        const chip = document.createElement("span");
        chip.className = "upload-chip";
        const name = document.createElement("span");
        name.className = "upload-name";
        name.textContent = file.name;
        name.dir = "auto";
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "upload-remove";
        remove.title = `Remove ${file.name}`;
        remove.textContent = "×";
        remove.addEventListener("click", () => { waiting.splice(i, 1); show(); });
        chip.append(name, ` ${size(file.size)} `, remove);
        list.append(chip);
      });
    }

    function add(files) {
      for (const file of files) {
        // A pasted screenshot is called "image.png" by every browser: give it a time.
        const named = file.name && file.name !== "image.png" ? file
          : new File([file], `pasted-${new Date().toISOString().replace(/[:.]/g, "-")}.${(file.type.split("/")[1] || "png")}`, { type: file.type });
        waiting.push(named);
      }
      show();
    }
    h.hasUploads = () => waiting.length > 0;

    picker.addEventListener("change", () => {
      add(picker.files);
      picker.value = ""; // they travel in `waiting`, not twice
    });
    input.addEventListener("paste", (e) => {
      const files = e.clipboardData && e.clipboardData.files;
      if (!files || files.length === 0) return;
      e.preventDefault();
      add(files);
    });
    const zone = document.querySelector("main.conversation") || document.body;
    zone.addEventListener("dragover", (e) => {
      if (!e.dataTransfer || ![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", (e) => { if (e.target === zone) zone.classList.remove("dropping"); });
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("dropping");
      if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
      e.preventDefault();
      add(e.dataTransfer.files);
      input.focus({ preventScroll: true });
    });

    function send() {
      if (sending) return;
      sending = true;
      const data = new FormData();
      // The token first: the server checks it before it takes any file.
      data.append("csrf_token", h.csrfToken());
      data.append("body", input.value);
      const reply = document.getElementById("composer-reply-to");
      if (reply && reply.value) data.append("reply_to", reply.value);
      for (const file of waiting) data.append("file", file, file.name);
      const bar = document.createElement("progress");
      bar.className = "upload-progress";
      bar.max = 1;
      bar.value = 0;
      list.append(bar);
      say("");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("HX-Request", "true");
      xhr.setRequestHeader("X-CSRF-Token", h.csrfToken());
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
      xhr.addEventListener("loadend", () => {
        sending = false;
        bar.remove();
        if (xhr.status >= 200 && xhr.status < 300) {
          waiting = [];
          show();
          input.value = "";
          input.dispatchEvent(new Event("input"));
          if (h.clearReply) h.clearReply();
          if (h.scroll) h.scroll.stick = true;
          return;
        }
        // The server's answer holds the composer's error line; say what it says.
        const answer = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
        const line = answer.getElementById("composer-error") || answer.querySelector(".form-error, main p");
        const words = line && line.textContent.trim();
        say(words || (xhr.status === 0
          ? "Not sent: hearth cannot be reached. Check your connection and try again."
          : `Not sent (error ${xhr.status}).`));
      });
      xhr.send(data);
    }

    // Before htmx hears of it: a message with files goes here instead.
    document.addEventListener("submit", (e) => {
      if (e.target !== form || waiting.length === 0) return;
      e.preventDefault();
      e.stopPropagation();
      send();
    }, true);
  });
})();
