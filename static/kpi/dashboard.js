/* Draws the dashboard's charts with the vendored Chart.js: one canvas per
 * section (data-chart="<name>"), its series in the #dashboard-charts JSON
 * (kpi/views_dashboard.py). The table beside each chart holds the same
 * numbers, each a link to its rows. */
(function () {
  "use strict";

  function percentTicks(value) {
    return value + "%";
  }

  function config(spec) {
    var options = { responsive: true, maintainAspectRatio: false, animation: false };
    if (spec.type !== "doughnut") {
      options.scales = { y: { beginAtZero: true } };
      if (spec.percent) {
        options.scales.y.ticks = { callback: percentTicks };
      }
      var needsCount = spec.datasets.some(function (d) { return d.yAxisID === "count"; });
      if (needsCount) {
        options.scales.count = {
          beginAtZero: true,
          position: "right",
          grid: { drawOnChartArea: false },
          ticks: { precision: 0 },
        };
      }
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: options,
    };
  }

  function draw() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var charts = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = charts[canvas.dataset.chart];
      if (!spec) {
        return;
      }
      new window.Chart(canvas, config(spec));
      canvas.dataset.drawn = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
