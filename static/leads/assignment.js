// Assignment page: "select all" boxes (the countdown is static/dcc/dcc.js).
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
})();
