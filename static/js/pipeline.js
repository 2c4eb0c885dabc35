// The pipeline board: drag and drop (native HTML5), a keyboard move menu on each card, a dialog for the
// inputs a guard asks for, and columns that load more cards on demand. Every move goes through the same
// JSON endpoint (and so the same transition service) as the forms; a refused move leaves the card where it
// was and shows the reason.
(function () {
  "use strict";

  var board = document.querySelector("[data-board]");
  if (!board) { return; }

  var canMove = board.dataset.canMove === "1";
  var stageNames = JSON.parse(board.dataset.stageNames || "{}");
  var stageOrder = JSON.parse(board.dataset.stages || "[]");
  var moveUrlTemplate = board.dataset.moveUrl || "";
  var statusRegion = document.querySelector("[data-board-status]");
  var dialogElement = document.querySelector("[data-move-dialog]");
  var dialogForm = dialogElement ? dialogElement.querySelector("[data-move-form]") : null;
  var dialog = dialogElement && window.bootstrap ? window.bootstrap.Modal.getOrCreateInstance(dialogElement) : null;
  var reasonSelect = dialogForm ? dialogForm.querySelector("select[name=reason]") : null;
  var reasonOptions = reasonSelect ? Array.prototype.slice.call(reasonSelect.options) : [];
  var INPUTS = ["applied_on", "accepted_on", "decided_on", "certificate_no", "tier", "reason", "comment", "override_reason"];
  var pending = null; // {card, to, choices}

  function announce(message) {
    if (statusRegion) { statusRegion.textContent = message; }
  }

  function moveUrl(enterpriseId) {
    return moveUrlTemplate.replace("/0/", "/" + encodeURIComponent(enterpriseId) + "/");
  }

  function columnOf(element) { return element.closest("[data-column]"); }

  function columnForStage(code) {
    var columns = board.querySelectorAll("[data-column]");
    for (var i = 0; i < columns.length; i += 1) {
      if (JSON.parse(columns[i].dataset.columnStages || "[]").indexOf(code) !== -1) { return columns[i]; }
    }
    return null;
  }

  function setCount(column, delta) {
    var badge = column.querySelector("[data-count]");
    if (!badge) { return; }
    var value = parseInt((badge.textContent || "0").replace(/[^0-9]/g, ""), 10) || 0;
    badge.textContent = String(Math.max(0, value + delta));
  }

  function refreshEmpty(column) {
    var empty = column.querySelector("[data-empty]");
    if (empty) { empty.hidden = column.querySelector("[data-card]") !== null; }
  }

  function showCardError(card, message) {
    var box = card.querySelector("[data-card-error]");
    if (box) {
      box.textContent = message;
      box.hidden = !message;
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": window.CRM.csrfToken()
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        return {status: response.status, data: {ok: false, message: board.dataset.msgFailed}};
      }
      return response.json().then(function (data) { return {status: response.status, data: data}; });
    }, function () {
      return {status: 0, data: {ok: false, message: board.dataset.msgFailed}};
    });
  }

  // --- moving a card ---------------------------------------------------------------------------------

  function attempt(card, to, inputs) {
    var body = {to: to};
    Object.keys(inputs || {}).forEach(function (key) { body[key] = inputs[key]; });
    card.classList.add("is-busy");
    showCardError(card, "");
    return post(moveUrl(card.dataset.enterpriseId), body).then(function (result) {
      card.classList.remove("is-busy");
      var data = result.data || {};
      if (data.ok) {
        placeMovedCard(card, data);
        if (dialog && pending) { pending = null; dialog.hide(); }
        return;
      }
      if (result.status === 422 && data.dialog && dialog) {
        openDialog(card, to, data, pending ? pending.choices : null);
        return;
      }
      if (dialog && pending) { pending = null; dialog.hide(); }
      var message = (board.dataset.msgRefused || "") + " " + (data.message || board.dataset.msgFailed);
      showCardError(card, message);
      announce(card.dataset.name + ": " + message);
      card.focus();
    });
  }

  function placeMovedCard(card, data) {
    var from = columnOf(card);
    var to = data.column ? board.querySelector('[data-column="' + data.column + '"]') : null;
    var wrapper = document.createElement("div");
    wrapper.innerHTML = data.card;
    var fresh = wrapper.querySelector("[data-card]");
    card.remove();
    if (from) { setCount(from, -1); refreshEmpty(from); }
    if (to && fresh) {
      var list = to.querySelector("[data-cards]");
      list.insertBefore(fresh, list.firstChild);
      setCount(to, 1);
      refreshEmpty(to);
      fresh.focus();
    }
    announce(data.message || "");
  }

  // --- the dialog ------------------------------------------------------------------------------------

  function fieldGroup(name) { return dialogForm.querySelector('[data-input="' + name + '"]'); }

  function filterReasons(stage) {
    if (!reasonSelect) { return; }
    var current = reasonSelect.value;
    while (reasonSelect.options.length) { reasonSelect.remove(0); }
    reasonOptions.forEach(function (option) {
      if (!option.dataset.stage || option.dataset.stage === stage) { reasonSelect.add(option); }
    });
    reasonSelect.value = current;
    if (reasonSelect.selectedIndex < 0) { reasonSelect.selectedIndex = 0; }
  }

  function showInputs(inputs, errors) {
    INPUTS.forEach(function (name) {
      var group = fieldGroup(name);
      if (!group) { return; }
      group.hidden = inputs.indexOf(name) === -1;
      var control = group.querySelector("input, select, textarea");
      var feedback = group.querySelector("[data-error-for]");
      var messages = (errors && errors[name]) || [];
      if (control) { control.classList.toggle("is-invalid", messages.length > 0); }
      if (feedback) { feedback.textContent = messages.join(" "); }
    });
    var box = dialogForm.querySelector("[data-dialog-errors]");
    var general = [];
    Object.keys(errors || {}).forEach(function (key) {
      if (INPUTS.indexOf(key) === -1 || !fieldGroup(key) || fieldGroup(key).hidden) {
        general = general.concat(errors[key]);
      }
    });
    box.textContent = general.join(" ");
    box.hidden = general.length === 0;
  }

  function openDialog(card, to, data, choices) {
    pending = {card: card, to: to, choices: choices};
    dialogForm.querySelector("[data-dialog-name]").textContent = card.dataset.name + " → " + (stageNames[to] || to);
    var toGroup = fieldGroup("to");
    var toSelect = toGroup.querySelector("select");
    toGroup.hidden = !choices || choices.length < 2;
    Array.prototype.forEach.call(toSelect.options, function (option) {
      option.hidden = !!choices && choices.indexOf(option.value) === -1;
      option.disabled = option.hidden;
    });
    toSelect.value = to;
    filterReasons(to);
    showInputs(data.inputs || [], data.errors || {});
    if (!dialogElement.classList.contains("show")) { dialog.show(); }
    var first = dialogForm.querySelector("[data-input]:not([hidden]) .is-invalid") ||
      dialogForm.querySelector("[data-input]:not([hidden]):not([data-input=to]) input, [data-input]:not([hidden]):not([data-input=to]) select, [data-input]:not([hidden]):not([data-input=to]) textarea");
    if (first) { window.setTimeout(function () { first.focus(); }, 200); }
  }

  function resetDialog() {
    dialogForm.reset();
    showInputs([], {});
  }

  // A column with several stages (won, lost): ask which, then what that stage needs.
  function chooseStage(card, choices) {
    resetDialog();
    // Start with the first stage the card could actually move to (a pooled enterprise cannot "fail").
    var index = 0;
    function tryNext() {
      var to = choices[index];
      post(moveUrl(card.dataset.enterpriseId), {to: to, dry_run: true}).then(function (result) {
        var data = result.data || {};
        if (result.status === 200 && !data.dialog && index < choices.length - 1) {
          index += 1;
          tryNext();
          return;
        }
        checkInputs(card, to, choices);
      });
    }
    tryNext();
  }

  function checkInputs(card, to, choices) {
    post(moveUrl(card.dataset.enterpriseId), {to: to, dry_run: true}).then(function (result) {
      var data = result.data || {};
      if (result.status !== 200) {
        showCardError(card, data.message || board.dataset.msgFailed);
        return;
      }
      var errors = {};
      Object.keys(data.errors || {}).forEach(function (key) {
        // Before the user typed anything, only conditions no field can fix are worth showing.
        if ((data.inputs || []).indexOf(key) === -1) { errors[key] = data.errors[key]; }
      });
      openDialog(card, to, {inputs: data.inputs || [], errors: errors}, choices);
    });
  }

  if (dialogForm) {
    dialogForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!pending) { return; }
      var values = {};
      INPUTS.forEach(function (name) {
        var group = fieldGroup(name);
        var control = group ? group.querySelector("input, select, textarea") : null;
        if (control && !group.hidden && control.value) { values[name] = control.value; }
      });
      var to = pending.choices ? fieldGroup("to").querySelector("select").value : pending.to;
      pending.to = to;
      attempt(pending.card, to, values);
    });
    fieldGroup("to").querySelector("select").addEventListener("change", function (event) {
      if (pending) { checkInputs(pending.card, event.target.value, pending.choices); }
    });
    dialogElement.addEventListener("hidden.bs.modal", function () {
      var card = pending && pending.card;
      pending = null;
      resetDialog();
      if (card && card.isConnected) { card.focus(); }
    });
  }

  function requestMove(card, column, explicitStage) {
    if (!canMove) { return; }
    var choices = JSON.parse(column.dataset.columnStages || "[]");
    var to = explicitStage || column.dataset.target;
    if (!to && choices.length > 1) {
      chooseStage(card, choices);
      return;
    }
    if (!to || to === card.dataset.stage) { return; }
    pending = null;
    attempt(card, to, {});
  }

  // --- drag and drop ---------------------------------------------------------------------------------

  var dragged = null;

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-card]");
    if (!card || !canMove) { return; }
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.enterpriseId);
  });

  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("is-dragging"); }
    dragged = null;
    board.querySelectorAll(".is-drop-target").forEach(function (c) { c.classList.remove("is-drop-target"); });
  });

  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest("[data-column]");
    if (!dragged || !column || column === columnOf(dragged)) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".is-drop-target").forEach(function (c) {
      if (c !== column) { c.classList.remove("is-drop-target"); }
    });
    column.classList.add("is-drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest("[data-column]");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("is-drop-target"); }
  });

  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest("[data-column]");
    if (!dragged || !column || column === columnOf(dragged)) { return; }
    event.preventDefault();
    column.classList.remove("is-drop-target");
    var card = dragged;
    dragged = null;
    card.classList.remove("is-dragging");
    requestMove(card, column, null);
  });

  // --- the keyboard move menu --------------------------------------------------------------------------

  board.addEventListener("show.bs.dropdown", function (event) {
    var toggle = event.target;
    if (!toggle.hasAttribute("data-move-menu")) { return; }
    var menu = toggle.nextElementSibling;
    var card = toggle.closest("[data-card]");
    menu.innerHTML = "";
    stageOrder.forEach(function (code) {
      if (code === card.dataset.stage) { return; }
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "dropdown-item";
      button.dataset.moveTo = code;
      button.textContent = stageNames[code] || code;
      item.appendChild(button);
      menu.appendChild(item);
    });
  });

  board.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest("[data-move-to]");
    if (item) {
      var card = item.closest("[data-card]");
      var column = columnForStage(item.dataset.moveTo);
      if (card && column) { requestMove(card, column, item.dataset.moveTo); }
      return;
    }
    var more = event.target.closest && event.target.closest("[data-load-more]");
    if (more) {
      // The link's own target is the enterprise list, for a browser without this script.
      event.preventDefault();
      loadMore(more);
    }
  });

  // --- columns in pages ------------------------------------------------------------------------------

  function loadMore(link) {
    if (link.getAttribute("aria-disabled") === "true") { return; }
    var column = columnOf(link);
    link.setAttribute("aria-disabled", "true");
    link.classList.add("disabled");
    function enable() {
      link.removeAttribute("aria-disabled");
      link.classList.remove("disabled");
    }
    fetch(link.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var list = column.querySelector("[data-cards]");
        var empty = list.querySelector("[data-empty]");
        var wrapper = document.createElement("ol");
        wrapper.innerHTML = data.html;
        var firstNew = null;
        Array.prototype.slice.call(wrapper.children).forEach(function (card) {
          if (list.querySelector('[data-enterprise-id="' + card.dataset.enterpriseId + '"]')) { return; }
          list.insertBefore(card, empty);
          firstNew = firstNew || card;
        });
        if (data.next_url) {
          link.dataset.url = data.next_url;
          enable();
        } else {
          link.closest(".card-footer").remove();
        }
        if (firstNew) { firstNew.focus(); }
      }, enable);
  }
})();
