/* Escher Console glue: live alert banners (server-sent events), charts when the chart library is present,
   and the "next" field of small forms (so an acknowledge returns to the page it was pressed on).
   Everything works without this file: forms are plain POSTs and the charts have tables. */
(function () {
  "use strict";

  function place(data) {
    var holder = document.createElement("div");
    holder.innerHTML = data.html;
    var node = holder.firstElementChild;
    if (!node) { return; }
    var old = document.getElementById("banner-" + data.alert_id);
    if (old) { old.replaceWith(node); }
    else {
      var region = node.tagName === "LI" ? document.getElementById("alert-list") : document.getElementById("banners");
      if (!region) { return; }
      region.insertBefore(node, region.firstChild);
      var note = document.querySelector("#in-app-alerts .empty-note");
      if (note && node.tagName === "LI") { note.remove(); }
    }
    if (window.htmx) { window.htmx.process(node); }
    stampNext(node);
  }

  function listen() {
    if (!window.EventSource) { return; }
    var source = new EventSource("/events");
    source.addEventListener("ready", function () { document.body.setAttribute("data-events", "open"); });
    source.addEventListener("alert", function (e) { place(JSON.parse(e.data)); });
    source.addEventListener("remove", function (e) {
      var gone = document.getElementById("banner-" + JSON.parse(e.data).alert_id);
      if (gone) { gone.remove(); }
    });
    source.onerror = function () { document.body.setAttribute("data-events", "retrying"); };
  }

  function stampNext(root) {
    var here = window.location.pathname + window.location.search;
    root.querySelectorAll('input[name="next"]').forEach(function (i) { i.value = here; });
  }

  function charts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]:not([data-drawn])").forEach(function (canvas) {
      var data;
      canvas.setAttribute("data-drawn", "1");
      try { data = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
      if (!data.labels || !data.labels.length) { return; }
      var severity = canvas.id === "severity-chart";
      var colours = { CRITICAL: "#b00020", HIGH: "#c25100", MEDIUM: "#8a6d00", LOW: "#2f5d8a", INFO: "#35618f" };
      new window.Chart(canvas, {
        type: canvas.getAttribute("data-kind") || "bar",
        data: { labels: data.labels, datasets: [{
          label: severity ? "failing findings" : "USD per day", data: data.values,
          backgroundColor: severity ? data.labels.map(function (l) { return colours[l] || "#5b5e66"; }) : "rgba(26,79,160,.15)",
          borderColor: severity ? undefined : "#1a4fa0", fill: !severity, tension: 0.2 }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } }
      });
      canvas.parentElement.classList.add("has-chart");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    stampNext(document);
    charts();
    listen();
    document.body.addEventListener("htmx:afterSwap", function () { stampNext(document); charts(); });
  });
})();
