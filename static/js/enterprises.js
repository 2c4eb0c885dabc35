// Enterprise pages: row selection and bulk actions, the office list following the area, progress polling.
(function () {
  "use strict";

  // --- bulk actions on the list -------------------------------------------------------------------------
  function selectedCount() {
    return document.querySelectorAll("[data-row-select]:checked").length;
  }
  function refreshCount() {
    var label = document.querySelector("[data-selected-count]");
    if (label) { label.textContent = "(" + selectedCount() + ")"; }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) { return; }
    if (target.hasAttribute("data-select-all")) {
      document.querySelectorAll("[data-row-select]").forEach(function (box) { box.checked = target.checked; });
      refreshCount();
    } else if (target.hasAttribute("data-row-select")) {
      refreshCount();
    } else if (target.hasAttribute("data-bulk-action")) {
      document.querySelectorAll("[data-bulk-fields]").forEach(function (fieldset) {
        var active = fieldset.getAttribute("data-bulk-fields") === target.value;
        fieldset.classList.toggle("d-none", !active);
        fieldset.disabled = !active;
      });
    } else if (target.hasAttribute("data-area-select")) {
      filterOffices(target);
    }
  });

  // --- the competent office must serve the area: offer only the offices that do --------------------------
  function filterOffices(areaSelect) {
    var office = document.getElementById(areaSelect.getAttribute("data-area-select"));
    if (!office) { return; }
    var area = areaSelect.value;
    Array.prototype.forEach.call(office.options, function (option) {
      var areas = (option.getAttribute("data-areas") || "").split(",");
      var fits = !option.value || option.value === "0" || areas.indexOf(area) !== -1;
      option.hidden = !fits;
      if (!fits && option.selected) { office.value = "0"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-area-select]").forEach(filterOffices);
    refreshCount();
    document.querySelectorAll("[data-poll]").forEach(poll);
  });

  // --- progress of an import or export job ----------------------------------------------------------------
  function poll(element) {
    var url = element.getAttribute("data-poll");
    var bar = element.querySelector("[data-progress]");
    var label = element.querySelector("[data-progress-label]");
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (bar) {
            bar.setAttribute("data-progress", String(data.percent || 0));
            bar.textContent = (data.percent || 0) + "%";
            window.CRM.applyProgress(element);
          }
          if (label && data.label) { label.textContent = data.label; }
          if (data.running === false || data.done || data.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(tick, 1000);
          }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 800);
  }
})();
