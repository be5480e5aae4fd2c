// The team gallery: a card's video plays while the pointer (or focus) is on it;
// the selection bar counts the ticked cards and asks before deleting.
// Delegated, so cards added by "Older generations" or a filter swap work too.
// Without this file the page still works: the forms post as they are.
(function () {
  "use strict";
  function videoOf(target) {
    const card = target.closest && target.closest(".gallery-card");
    return card && card.querySelector("video[data-hover-play]");
  }
  function play(event) {
    const video = videoOf(event.target);
    if (video && video.paused) video.play().catch(() => {});
  }
  function stop(event) {
    const video = videoOf(event.target);
    if (!video || (event.relatedTarget && video.closest(".gallery-card").contains(event.relatedTarget))) return;
    video.pause();
    video.currentTime = 0;
  }
  document.addEventListener("mouseover", play);
  document.addEventListener("mouseout", stop);
  document.addEventListener("focusin", play);
  document.addEventListener("focusout", stop);

  // -- selection -------------------------------------------------------------
  function boxes() {
    return Array.from(document.querySelectorAll("input[data-select]"));
  }
  function showSelection() {
    const form = document.getElementById("gallery-selection");
    if (!form) return;
    const all = boxes();
    const ticked = all.filter((box) => box.checked).length;
    const count = document.getElementById("selection-count");
    if (!count.dataset.hint) count.dataset.hint = count.textContent;
    count.textContent = ticked ? `${ticked} selected` : count.dataset.hint;
    form.classList.toggle("has-selection", ticked > 0);
    form.querySelectorAll("[data-needs-selection]").forEach((button) => (button.disabled = !ticked));
    const selectAll = form.querySelector("[data-select-all]");
    selectAll.hidden = false;
    selectAll.textContent = all.length && ticked === all.length ? "Clear selection" : "Select all shown";
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[data-select]")) showSelection();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.matches("[data-select-all]")) return;
    const all = boxes();
    const tick = !all.every((box) => box.checked);
    all.forEach((box) => (box.checked = tick));
    showSelection();
  });
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", showSelection);
  // Filters swap the results, "Older generations" appends cards: count again.
  document.addEventListener("htmx:afterSettle", showSelection);
  // Back from the download or the browser's history: the boxes may still be ticked.
  window.addEventListener("pageshow", showSelection);
})();
