// Visit form: keep what was typed on this device (localStorage) until the server confirms the visit was saved,
// so an expired session, a lost connection or a closed tab never loses a visit report. Also: add rows of
// problems and follow-ups, show the "took place" sections only for visits that took place.
//
// Wiring (no inline script, see the CSP):
//   <form data-visit-draft="KEY" data-visit-draft-restore="1">   saves under KEY; restores when "1"
//   [data-visit-draft-notice] / [data-visit-draft-discard]        the "restored" notice and its discard button
//   [data-visit-offline]                                          shown when a submit is tried offline
//   [data-visit-done-only]                                        hidden while the visit is only planned
//   [data-visit-rows="findings"] .visit-row + [data-visit-add-row="findings"]   repeatable rows
//   [data-visit-draft-clear="KEY"]                                on the page after a save: forget KEY
(function () {
  "use strict";

  var PREFIX = "crm.visit-draft.";
  var MAX_AGE_MS = 30 * 24 * 3600 * 1000;

  function storage() {
    try {
      var probe = "__crm_probe__";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (error) {
      return null; // private mode or storage disabled: the form still works, without drafts
    }
  }

  function draftableFields(form) {
    return Array.prototype.filter.call(form.elements, function (field) {
      return field.name && field.name !== "csrf_token" && field.type !== "file" && field.type !== "submit" &&
        field.type !== "button" && !field.disabled;
    });
  }

  function serialise(form) {
    var values = {};
    draftableFields(form).forEach(function (field) {
      if (field.type === "checkbox" || field.type === "radio") {
        if (!(field.name in values)) { values[field.name] = []; }
        if (field.checked) { values[field.name].push(field.value); }
      } else if (field.tagName === "SELECT" && field.multiple) {
        values[field.name] = Array.prototype.filter.call(field.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else {
        values[field.name] = field.value;
      }
    });
    return values;
  }

  function apply(form, values) {
    ensureRows(form, values);
    draftableFields(form).forEach(function (field) {
      if (!(field.name in values)) { return; }
      var value = values[field.name];
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = Array.isArray(value) && value.indexOf(field.value) !== -1;
      } else if (field.tagName === "SELECT" && field.multiple) {
        Array.prototype.forEach.call(field.options, function (o) { o.selected = value.indexOf(o.value) !== -1; });
      } else if (typeof value === "string") {
        field.value = value;
      }
    });
  }

  // --- repeatable rows (problems found, follow-ups) ---------------------------------------------------------

  function rowIndexPattern(prefix) { return new RegExp("^" + prefix + "-(\\d+)-"); }

  function addRow(form, prefix) {
    var container = form.querySelector('[data-visit-rows="' + prefix + '"]');
    if (!container) { return null; }
    var rows = container.querySelectorAll(".visit-row");
    if (!rows.length || rows.length >= 30) { return null; }
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var pattern = rowIndexPattern(prefix);
    var next = rows.length;
    copy.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach(function (node) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
        var value = node.getAttribute(attribute);
        if (value && pattern.test(value)) {
          node.setAttribute(attribute, value.replace(pattern, prefix + "-" + next + "-"));
        }
      });
    });
    copy.querySelectorAll("input, textarea").forEach(function (field) { field.value = ""; });
    copy.querySelectorAll("select").forEach(function (field) { field.selectedIndex = 0; });
    copy.querySelectorAll(".is-invalid").forEach(function (node) { node.classList.remove("is-invalid"); });
    copy.querySelectorAll(".invalid-feedback").forEach(function (node) { node.remove(); });
    container.appendChild(copy);
    return copy;
  }

  function ensureRows(form, values) {
    ["findings", "follow_ups"].forEach(function (prefix) {
      var pattern = rowIndexPattern(prefix);
      var highest = -1;
      Object.keys(values).forEach(function (name) {
        var match = pattern.exec(name);
        if (match) { highest = Math.max(highest, parseInt(match[1], 10)); }
      });
      var container = form.querySelector('[data-visit-rows="' + prefix + '"]');
      while (container && container.querySelectorAll(".visit-row").length <= highest) {
        if (!addRow(form, prefix)) { break; }
      }
    });
  }

  // --- planned or done ---------------------------------------------------------------------------------------

  function updateDoneSections(form) {
    var checked = form.querySelector('input[name="status"]:checked');
    var planned = checked && checked.value === "planned";
    document.querySelectorAll("[data-visit-done-only]").forEach(function (section) {
      section.classList.toggle("d-none", !!planned);
    });
  }

  // --- the draft ---------------------------------------------------------------------------------------------

  function initForm(form, store) {
    var key = form.getAttribute("data-visit-draft");
    var notice = document.querySelector("[data-visit-draft-notice]");
    var offline = document.querySelector("[data-visit-offline]");
    var timer = null;

    function save() {
      if (!store) { return; }
      try {
        store.setItem(key, JSON.stringify({ savedAt: Date.now(), values: serialise(form) }));
      } catch (error) { /* storage full: nothing more we can do here */ }
    }

    function saveSoon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(save, 300);
    }

    if (store && form.getAttribute("data-visit-draft-restore") === "1") {
      var raw = store.getItem(key);
      if (raw) {
        try {
          var draft = JSON.parse(raw);
          if (draft && draft.values && Date.now() - (draft.savedAt || 0) < MAX_AGE_MS) {
            apply(form, draft.values);
            if (notice) { notice.classList.remove("d-none"); }
          } else {
            store.removeItem(key);
          }
        } catch (error) {
          store.removeItem(key);
        }
      }
    }
    updateDoneSections(form);

    form.addEventListener("input", saveSoon);
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "status") { updateDoneSections(form); }
      saveSoon();
    });
    window.addEventListener("pagehide", save);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { save(); }
    });

    form.addEventListener("submit", function (event) {
      save(); // kept until the page after a successful save says to forget it
      if (navigator.onLine === false) {
        event.preventDefault();
        if (offline) { offline.classList.remove("d-none"); offline.scrollIntoView({ block: "center" }); }
      }
    });
    window.addEventListener("online", function () { if (offline) { offline.classList.add("d-none"); } });

    document.querySelectorAll("[data-visit-draft-discard]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (store) { store.removeItem(key); }
        window.location.reload();
      });
    });

    document.querySelectorAll("[data-visit-add-row]").forEach(function (button) {
      button.addEventListener("click", function () {
        var row = addRow(form, button.getAttribute("data-visit-add-row"));
        if (row) {
          var first = row.querySelector("select, input, textarea");
          if (first) { first.focus(); }
        }
      });
    });
  }

  function forgetOldDrafts(store) {
    for (var i = store.length - 1; i >= 0; i -= 1) {
      var name = store.key(i);
      if (name && name.indexOf(PREFIX) === 0) {
        try {
          var draft = JSON.parse(store.getItem(name));
          if (!draft || Date.now() - (draft.savedAt || 0) > MAX_AGE_MS) { store.removeItem(name); }
        } catch (error) {
          store.removeItem(name);
        }
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    if (store) {
      document.querySelectorAll("[data-visit-draft-clear]").forEach(function (node) {
        var key = node.getAttribute("data-visit-draft-clear");
        if (key && key.indexOf(PREFIX) === 0) { store.removeItem(key); }
      });
      forgetOldDrafts(store);
    }
    document.querySelectorAll("form[data-visit-draft]").forEach(function (form) { initForm(form, store); });
  });
})();
