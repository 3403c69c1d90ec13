// The recording page: the checklist's running total, "full marks" for the
// items not scored yet, seek buttons and playback speed.
(function () {
  "use strict";

  function scoreInputs() {
    return document.querySelectorAll("[data-testid=review-form] input[data-points]");
  }

  function updateTotal() {
    var out = document.getElementById("live-total");
    if (!out) return;
    var sum = 0;
    var scored = 0;
    scoreInputs().forEach(function (input) {
      var value = parseInt(input.value, 10);
      if (!isNaN(value)) {
        sum += value;
        scored += 1;
      }
    });
    out.textContent = scored ? String(sum) : "–";
  }

  function audio() {
    return document.getElementById("recording-audio");
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("input[data-points]")) updateTotal();
  });
  document.addEventListener("click", function (event) {
    var fill = event.target.closest("[data-fill-max]");
    if (fill) {
      scoreInputs().forEach(function (input) {
        if (input.value === "") input.value = input.dataset.points;
      });
      updateTotal();
      return;
    }
    var seek = event.target.closest("[data-seek]");
    var player = audio();
    if (seek && player) {
      var end = isFinite(player.duration) ? player.duration : player.currentTime;
      var to = player.currentTime + parseFloat(seek.dataset.seek);
      player.currentTime = Math.max(0, Math.min(end, to));
    }
  });
  document.addEventListener("change", function (event) {
    var player = audio();
    if (event.target.matches("[data-rate]") && player) {
      player.playbackRate = parseFloat(event.target.value);
    }
  });
  document.addEventListener("DOMContentLoaded", updateTotal);
  document.addEventListener("htmx:afterSettle", updateTotal);
})();
