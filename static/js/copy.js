// Copy buttons: a click on [data-copy] puts the text of the element it names
// on the clipboard. One listener on the document, so buttons in content that
// htmx swaps in later work too.
(function () {
  "use strict";

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent);
    } catch (error) {
      // No clipboard API (plain http off localhost): select the text instead.
      window.getSelection().selectAllChildren(source);
      document.execCommand("copy");
    }
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = button.dataset.label), 1500);
  });
})();
