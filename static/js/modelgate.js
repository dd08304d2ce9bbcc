// Portal behaviour without inline scripts (the CSP forbids them).
(function () {
  // Styles that need this script (the folding menu) apply only once it runs.
  document.documentElement.classList.add("js");

  // The main menu's toggle under 600 px: the button says whether the menu is open; Escape closes it.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", toggle.getAttribute("aria-expanded") === "true" ? "false" : "true");
  });
  document.addEventListener("keydown", function (event) {
    var toggle = document.querySelector('.nav-toggle[aria-expanded="true"]');
    if (event.key === "Escape" && toggle) {
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });

  // Charts: an element with data-plotly-figure="<id of a json_script element>" is drawn with plotly.js
  // when it first comes into view, so a hidden tab's charts are drawn when the tab opens and a long
  // page's as it scrolls. plotly.js itself (<meta name="plotly-src">) is fetched the first time a
  // chart is needed: a page or tab without one never loads it, and none delays the page's load event.
  var plotly = null;  // the promise of window.Plotly, once asked for
  function loadPlotly() {
    if (!plotly) {
      plotly = new Promise(function (resolve, reject) {
        if (window.Plotly) return resolve(window.Plotly);
        var script = document.createElement("script");
        script.src = document.querySelector('meta[name="plotly-src"]').content;
        script.onload = function () { resolve(window.Plotly); };
        script.onerror = function () { plotly = null; reject(new Error("plotly.js did not load")); };
        document.head.appendChild(script);
      });
    }
    return plotly;
  }

  function draw(el) {
    var source = document.getElementById(el.dataset.plotlyFigure);
    if (!source || el.dataset.drawn) return;
    el.dataset.drawn = "pending";
    loadPlotly().then(function (Plotly) {
      var fig = JSON.parse(source.textContent);
      // automargin: long category labels (group names, "feature = value") widen the margin instead of being clipped.
      var layout = Object.assign({ margin: { t: 40, r: 20, b: 50, l: 60 } }, fig.layout || {});
      ["xaxis", "yaxis"].forEach(function (axis) { layout[axis] = Object.assign({ automargin: true }, layout[axis] || {}); });
      if (el.clientWidth < 600) layout.legend = Object.assign({}, layout.legend, { orientation: "h" });  // phones: legend below, not beside
      return Plotly.newPlot(el, fig.data || [], layout, { responsive: true, displaylogo: false });
    }).then(function () { el.dataset.drawn = "1"; }, function () { delete el.dataset.drawn; });
  }

  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;  // hidden (a closed tab, display:none) or still far off screen
      observer.unobserve(entry.target);
      draw(entry.target);
    });
  }, { rootMargin: "400px 0px" }) : null;

  function watchCharts(root) {
    root.querySelectorAll("[data-plotly-figure]:not([data-watched])").forEach(function (el) {
      el.dataset.watched = "1";
      if (observer) observer.observe(el);
      else if (el.offsetParent !== null) draw(el);
      else delete el.dataset.watched;  // no IntersectionObserver: try again when a tab opens
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
    watchCharts(document);
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

  document.addEventListener("DOMContentLoaded", function () { watchCharts(document); });
  // After any swap (outerHTML swaps replace the event target), watch the charts it brought.
  document.addEventListener("htmx:afterSettle", function () { watchCharts(document); });
})();
