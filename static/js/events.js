// Training events: the check-in page (camera QR scanning with the vendored jsQR, list filter, tick-all)
// and small helpers of the invitation pages. No inline scripts: everything is wired through data- attributes.
(function () {
  "use strict";

  // <input data-select-on-focus>: select the text (the one-time link) when focused.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) field.select();
  });

  // <button data-copy-target="#id">: copy the target field's value.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy-target]") : null;
    if (!button) return;
    var field = document.querySelector(button.dataset.copyTarget);
    if (!field) return;
    field.select();
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).catch(function () {});
  });

  function setupCheckin(root) {
    var scanUrl = root.dataset.scanUrl;
    var video = root.querySelector("[data-video]");
    var canvas = root.querySelector("[data-canvas]");
    var cameraBox = root.querySelector("[data-camera]");
    var startButton = root.querySelector("[data-camera-start]");
    var stopButton = root.querySelector("[data-camera-stop]");
    var resultBox = root.querySelector("[data-result]");
    var errorBox = root.querySelector("[data-camera-error]");
    var filter = document.querySelector("[data-checkin-filter]");
    var tickAll = document.querySelector("[data-tick-all]");
    var stream = null;
    var busy = false;
    var lastPayload = "";
    var lastAt = 0;
    var context = canvas ? canvas.getContext("2d", { willReadFrequently: true }) : null;

    function showResult(kind, message) {
      resultBox.classList.remove("d-none", "alert-success", "alert-warning", "alert-danger", "alert-info");
      resultBox.classList.add("alert-" + kind);
      resultBox.textContent = message;
    }

    function showError(message) {
      errorBox.textContent = message;
      errorBox.classList.remove("d-none");
    }

    function markRow(registration) {
      var row = document.querySelector('[data-registration-row="' + registration.id + '"]');
      if (!row) return;
      row.classList.add("table-success");
      var tick = row.querySelector("[data-tick]");
      if (tick) tick.remove();
      var single = row.querySelector("[data-single-checkin]");
      if (single) single.remove();
      var cell = row.querySelector("[data-checked-in-at]");
      if (cell) cell.textContent = registration.checked_in_at_display || "";
    }

    function updateCount(text) {
      var counter = document.querySelector("[data-checkin-count]");
      if (counter && text) counter.textContent = text;
    }

    function submitPayload(payload) {
      busy = true;
      fetch(scanUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": window.CRM.csrfToken(), "Accept": "application/json" },
        body: JSON.stringify({ payload: payload })
      })
        .then(function (response) {
          return response.json().catch(function () { return { status: "error", message: response.statusText }; });
        })
        .then(function (body) {
          if (body.status === "checked_in") {
            showResult("success", body.message);
            markRow(body.registration);
            updateCount(body.count_text);
            if (navigator.vibrate) navigator.vibrate(120);
          } else if (body.status === "already") {
            showResult("info", body.message);
          } else {
            showResult("danger", body.message || "Error");
          }
        })
        .catch(function () { showResult("danger", errorBox.dataset.messageDenied); })
        .finally(function () { busy = false; });
    }

    function scanFrame() {
      if (!stream) return;
      if (!busy && video.readyState === video.HAVE_ENOUGH_DATA) {
        var width = video.videoWidth;
        var height = video.videoHeight;
        canvas.width = width;
        canvas.height = height;
        context.drawImage(video, 0, 0, width, height);
        var image = context.getImageData(0, 0, width, height);
        var code = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
        var now = Date.now();
        // The same code is sent again only after 3 seconds, so holding it in view checks in once.
        if (code && code.data && (code.data !== lastPayload || now - lastAt > 3000)) {
          lastPayload = code.data;
          lastAt = now;
          submitPayload(code.data);
        }
      }
      window.setTimeout(function () { window.requestAnimationFrame(scanFrame); }, 200);
    }

    function start() {
      errorBox.classList.add("d-none");
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
        showError(errorBox.dataset.messageUnsupported);
        return;
      }
      navigator.mediaDevices
        .getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          cameraBox.hidden = false;
          startButton.hidden = true;
          stopButton.hidden = false;
          return video.play();
        })
        .then(function () { window.requestAnimationFrame(scanFrame); })
        .catch(function () { showError(errorBox.dataset.messageDenied); stop(); });
    }

    function stop() {
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.srcObject = null;
      cameraBox.hidden = true;
      startButton.hidden = false;
      stopButton.hidden = true;
    }

    if (startButton) startButton.addEventListener("click", start);
    if (stopButton) stopButton.addEventListener("click", stop);

    // Filter the list as the name is typed (the search button still searches on the server).
    if (filter) {
      filter.addEventListener("input", function () {
        var needle = filter.value.trim().toLowerCase();
        document.querySelectorAll("[data-registration-row]").forEach(function (row) {
          row.hidden = needle !== "" && row.dataset.search.indexOf(needle) === -1;
        });
      });
    }

    if (tickAll) {
      tickAll.addEventListener("change", function () {
        document.querySelectorAll("[data-registration-row]").forEach(function (row) {
          var tick = row.querySelector("[data-tick]");
          if (tick && !row.hidden) tick.checked = tickAll.checked;
        });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-checkin]").forEach(setupCheckin);
  });
})();
