// New-lead form: the showroom handover fields only for low-intent leads.
(function () {
  "use strict";
  function sync(form) {
    var block = form.querySelector("[data-handover]");
    var source = form.querySelector("select[name=source]");
    if (!block || !source) return;
    block.hidden = source.value !== block.dataset.handoverSource;
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "source" && event.target.form) sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(sync);
  });
})();
