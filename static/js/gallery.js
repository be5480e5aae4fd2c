// The team gallery: a card's video plays while the pointer (or focus) is on it.
// Delegated, so cards added by "Older generations" work too.
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
})();
