// Follow-up forms and the call queue's keyboard.
(function () {
  "use strict";

  // A follow-up form shows the fields of the chosen result only (the visit
  // time for "invited", the reason for "defeated" or "invalid"): inputs carry
  // data-for-result; their column is hidden for any other result.
  function syncResult(form) {
    var checked = form.querySelector('input[type=radio][name$="result"]:checked');
    var value = checked ? checked.value : "";
    form.querySelectorAll("[data-for-result]").forEach(function (input) {
      var block = input.closest('[class*="col-"]') || input.parentElement;
      block.hidden = input.dataset.forResult !== value;
    });
  }
  function syncAll() {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-for-result]")) syncResult(form);
    });
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.type === "radio" && /result$/.test(input.name) && input.form) syncResult(input.form);
  });
  document.addEventListener("DOMContentLoaded", syncAll);
  document.addEventListener("htmx:afterSettle", syncAll);

  // Keyboard: j/k (or arrows) move along the queue, Enter opens the row,
  // 1–6 pick the result, Ctrl+Enter saves and brings up the next row.
  function typing(target) {
    return !!target.closest("textarea, select, [contenteditable], input:not([type=radio]):not([type=checkbox])");
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
  }
  function move(step) {
    var list = rows();
    if (!list.length) return;
    var current = list.indexOf(document.activeElement);
    if (current < 0) current = list.findIndex(function (row) { return row.classList.contains("active-row"); });
    var next = list[Math.min(list.length - 1, Math.max(0, current + step))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var panelForm = document.querySelector("#work-panel [data-followup-form]");
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      var form = event.target.closest && event.target.closest("form");
      form = form || panelForm;
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (!document.querySelector("[data-queue-page]") || event.altKey || event.ctrlKey || event.metaKey) return;
    if (typing(event.target)) return;
    if (event.key === "j" || event.key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (event.key === "k" || event.key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if (/^[1-9]$/.test(event.key) && panelForm) {
      var radios = panelForm.querySelectorAll('input[type=radio][name$="result"]');
      var radio = radios[Number(event.key) - 1];
      if (!radio) return;
      event.preventDefault();
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      radio.focus();
    }
  });

  // After the panel changes, the queue marks its row and the row stays in view.
  // On a phone the panel sits below the queue: the first item opening by
  // itself as the page loads must not carry the page down to the panel
  // (issue 13 point 9); a row the user opens still brings the panel up.
  function stacked() {
    return window.matchMedia("(max-width: 991.98px)").matches;
  }
  function openedByItself(event) {
    var config = event.detail.requestConfig;
    var elt = config && config.elt;
    return !!(elt && elt.matches && elt.matches("[data-testid=panel-loading]"));
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "work-panel") return;
    var still = stacked() && openedByItself(event);
    var panel = document.querySelector("#work-panel [data-key]");
    rows().forEach(function (row) {
      var active = panel && row.dataset.key === panel.dataset.key;
      row.classList.toggle("active-row", active);
      row.setAttribute("aria-selected", active ? "true" : "false");
      if (active && !stacked()) row.scrollIntoView({ block: "nearest" });
    });
    var first = document.querySelector('#work-panel input[type=radio][name$="result"]');
    if (first && !document.querySelector("#work-panel .is-invalid, #work-panel [data-testid=form-errors]")) {
      first.focus({ preventScroll: still });
    }
  });
})();
