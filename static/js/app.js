// Behaviour shared by every page. No inline scripts: pages declare behaviour with data- attributes.
(function () {
  "use strict";

  // <form data-confirm="Are you sure?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // <select data-autosubmit>: submit the enclosing form when the choice changes.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
  });

  // <div class="progress-bar" role="progressbar" data-progress="42">: set the width from data (inline styles are
  // not allowed) and aria-valuenow, which belongs on the element with the progressbar role.
  function applyProgress(root) {
    (root || document).querySelectorAll("[data-progress]").forEach(function (bar) {
      var value = Math.max(0, Math.min(100, parseFloat(bar.dataset.progress) || 0));
      bar.style.width = value + "%";
      bar.setAttribute("aria-valuenow", String(Math.round(value)));
    });
  }

  // A table wider than its .table-responsive scrolls sideways, which a keyboard can do only when something in
  // it takes the focus. Regions that scroll with no link, button or field inside take the focus themselves;
  // they give it back when a wider window no longer makes them scroll.
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";
  function focusScrollingTables(root) {
    (root || document).querySelectorAll(".table-responsive").forEach(function (region) {
      var ours = region.hasAttribute("data-scroll-focus");
      if (!ours && region.hasAttribute("tabindex")) return;
      if (region.scrollWidth > region.clientWidth && !region.querySelector(FOCUSABLE)) {
        region.setAttribute("tabindex", "0");
        region.setAttribute("data-scroll-focus", "");
      } else if (ours) {
        region.removeAttribute("tabindex");
        region.removeAttribute("data-scroll-focus");
      }
    });
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { focusScrollingTables(document); }, 200);
  });

  window.CRM = window.CRM || {};
  window.CRM.applyProgress = applyProgress;
  window.CRM.focusScrollingTables = focusScrollingTables;
  window.CRM.csrfToken = function () {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  };
  document.addEventListener("DOMContentLoaded", function () {
    applyProgress(document);
    focusScrollingTables(document);
  });
})();
