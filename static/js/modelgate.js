// Portal behaviour without inline scripts (the CSP forbids them).
// Charts: any element with data-plotly-figure="<id of a json_script element>" is drawn with plotly.js.
(function () {
  function drawCharts(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-plotly-figure]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.plotlyFigure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, { responsive: true, displaylogo: false });
      el.dataset.drawn = "1";
    });
  }
  // Confirmation for destructive or binding actions: <button data-confirm="Approve this request?">
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
