// Shared behaviour of every page.
(function () {
  "use strict";

  // Live deadlines: an element with data-deadline="<ISO time>" inside a
  // container carrying the server's wording (data-fmt-left / data-fmt-overdue,
  // from leads_ui's deadline_formats) shows "5 h 12 min left" / "overdue by …",
  // re-computed every 15 s and after each htmx swap.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (cell) {
      var holder = cell.closest("[data-fmt-left]");
      if (!holder) return;
      var ms = Date.parse(cell.dataset.deadline) - now;
      var minutes = Math.floor(Math.abs(ms) / 60000);
      var fmt = ms >= 0 ? holder.dataset.fmtLeft : holder.dataset.fmtOverdue;
      cell.textContent = fmt.replace("%(hours)s", Math.floor(minutes / 60))
        .replace("%(minutes)s", minutes % 60);
      cell.classList.toggle("text-danger", ms < 0);
      cell.classList.toggle("text-warning-emphasis", ms >= 0 && ms < 2 * 3600 * 1000);
      cell.classList.toggle("fw-semibold", ms < 2 * 3600 * 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 15000);
})();

// A select marked data-autosubmit sends its form when changed (the language
// switch, a page's store picker): no inline onchange, which the CSP forbids.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
});
