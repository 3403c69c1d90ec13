// Assignment page: "select all" boxes and the live first-contact countdown.
(function () {
  "use strict";

  // A header box with data-select-all="NAME" ticks every box named NAME in its table.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches("[data-select-all]")) return;
    var scope = box.closest("table") || document;
    scope.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
      .forEach(function (item) { item.checked = box.checked; });
  });

  // "5 h 12 min left" / "overdue by …": the server's wording, re-computed each half minute.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (cell) {
      var table = cell.closest("[data-fmt-left]");
      if (!table) return;
      var ms = Date.parse(cell.dataset.deadline) - now;
      var minutes = Math.floor(Math.abs(ms) / 60000);
      var fmt = ms >= 0 ? table.dataset.fmtLeft : table.dataset.fmtOverdue;
      cell.textContent = fmt.replace("%(hours)s", Math.floor(minutes / 60))
        .replace("%(minutes)s", minutes % 60);
      cell.classList.toggle("text-danger", ms < 0);
      cell.classList.toggle("fw-semibold", ms < 0);
    });
  }
  setInterval(tick, 30000);
})();
