// The plan document's print button: <button data-print>.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.hasAttribute("data-print")) {
      window.print();
    }
  });
})();
