// Portal behaviour without inline scripts (the CSP forbids them).
(function () {
  // Charts: any element with data-plotly-figure="<id of a json_script element>" is drawn with plotly.js
  // (loaded only on pages that have charts, so the script may arrive after this one).
  function drawCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-plotly-figure]").forEach(function (el) {
      if (el.dataset.drawn || el.offsetParent === null) return;  // hidden tabs are drawn when shown
      var source = document.getElementById(el.dataset.plotlyFigure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      var layout = Object.assign({ margin: { t: 40, r: 20, b: 50, l: 60 } }, fig.layout || {});
      window.Plotly.newPlot(el, fig.data || [], layout, { responsive: true, displaylogo: false });
      el.dataset.drawn = "1";
    });
  }

  // Confirmation for binding actions: <button data-confirm="Approve this request?"> or <form data-confirm>.
  // Capture phase, so a refusal also stops htmx's own submit handler on the form.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Auto-submit filter forms when a select changes (the submit button stays for keyboard users).
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.dataset.autosubmit !== undefined && event.target.tagName === "SELECT") form.requestSubmit();
  });

  // Tabs: <div data-tabs> with buttons [role=tab][aria-controls] and panels [role=tabpanel].
  document.addEventListener("click", function (event) {
    var tab = event.target.closest("[role=tab]");
    if (!tab) return;
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (t) {
      var selected = t === tab;
      t.setAttribute("aria-selected", selected ? "true" : "false");
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    });
    drawCharts(document);
  });

  // Arrow keys move between tabs (WAI-ARIA tabs pattern); Enter/Space already click buttons.
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    next.click();
    event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  window.addEventListener("load", function () { drawCharts(document); });
  // After any swap (outerHTML swaps replace the event target), draw whatever is not drawn yet.
  document.addEventListener("htmx:afterSettle", function () { drawCharts(document); });
})();
