// The progress page of an export: poll its status, move the bar, show the download link when the file is ready.
(function () {
  "use strict";

  function poll(element) {
    var url = element.getAttribute("data-export-poll");
    var bar = element.querySelector("[data-progress]");
    var label = element.querySelector("[data-progress-label]");
    var rows = element.querySelector("[data-progress-rows]");
    var link = element.querySelector("[data-export-download]");
    var error = element.querySelector("[data-export-error]");
    function show(data) {
      var percent = data.percent || 0;
      bar.setAttribute("data-progress", String(percent));
      bar.textContent = percent + "%";
      window.CRM.applyProgress(element);
      if (label && data.label) { label.textContent = data.label; }
      if (rows && data.progress && data.progress.total !== null && data.progress.total !== undefined) {
        rows.textContent = data.progress.done + " / " + data.progress.total;
      }
      element.setAttribute("data-export-status", data.status);
    }
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          show(data);
          if (data.done || data.failed) {
            bar.classList.remove("progress-bar-striped", "progress-bar-animated");
            if (data.download && link) {
              link.setAttribute("href", data.download);
              link.classList.remove("d-none");
            }
            if (data.failed && error) {
              if (data.error) { error.textContent = data.error; }
              error.classList.remove("d-none");
            }
          } else {
            window.setTimeout(tick, 1000);
          }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    var current = element.getAttribute("data-export-status");
    if (current !== "done" && current !== "failed") { window.setTimeout(tick, 500); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-export-poll]").forEach(poll);
  });
})();
