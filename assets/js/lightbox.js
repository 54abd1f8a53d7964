/* The lightbox (assets/js/lightbox.js): a picture in a message opens full size over
 * the page; Escape closes it, the arrow keys go to the previous and next picture of
 * the conversation.
 *
 * Owns: the lightbox dialog. Must not: be needed (without it the thumbnail is a link
 * to the picture) or load anything but the picture the person opened.
 */
(() => {
  "use strict";
  const h = window.hearth;
  let dialog = null;
  let current = null;

  const pictures = () => [...document.querySelectorAll("#messages a[data-lightbox]")];

  function build() {
    dialog = document.createElement("dialog");
    dialog.id = "lightbox";
    dialog.className = "lightbox";
    dialog.setAttribute("aria-label", "Picture");
    const img = document.createElement("img");
    img.alt = "";
    const caption = document.createElement("p");
    caption.className = "lightbox-caption";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "lightbox-close";
    close.textContent = "Close";
    close.addEventListener("click", () => dialog.close());
    dialog.append(img, caption, close);
    // A click on the backdrop (the dialog itself, not the picture) closes it.
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        move(e.key === "ArrowRight" ? 1 : -1);
      }
    });
    dialog.addEventListener("close", () => { if (current) current.focus({ preventScroll: true }); });
    document.body.append(dialog);
  }

  function open(link) {
    if (!dialog) build();
    current = link;
    const img = dialog.querySelector("img");
    const thumb = link.querySelector("img");
    img.src = link.href;
    img.alt = thumb ? thumb.alt : "";
    if (link.dataset.fullWidth) img.width = Number(link.dataset.fullWidth);
    if (link.dataset.fullHeight) img.height = Number(link.dataset.fullHeight);
    dialog.querySelector(".lightbox-caption").textContent = link.title || img.alt;
    if (!dialog.open) dialog.showModal();
  }

  function move(by) {
    const all = pictures();
    const at = all.indexOf(current);
    const next = all[at + by];
    if (at >= 0 && next) open(next);
  }

  h.ready(() => {
    document.addEventListener("click", (e) => {
      const link = e.target.closest && e.target.closest("#messages a[data-lightbox]");
      if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      open(link);
    });
  });
})();
