/* Relay's page behaviour. Pages carry no inline scripts or event handlers: the Content-Security-Policy
   allows scripts from our own origin only (config/settings.py CONTENT_SECURITY_POLICY). */
(function () {
  "use strict";

  // Filter boxes start open on wide screens and folded on phones (templates/leads/_filters.html).
  function openFiltersOnWideScreens(root) {
    if (!window.matchMedia("(min-width: 701px)").matches) return;
    if (root.matches && root.matches("details.filter-box")) root.open = true;
    root.querySelectorAll("details.filter-box").forEach(function (box) { box.open = true; });
  }

  document.addEventListener("DOMContentLoaded", function () { openFiltersOnWideScreens(document); });
  // Content htmx swaps in gets the same treatment.
  document.addEventListener("htmx:load", function (event) { openFiltersOnWideScreens(event.target); });

  // "Every lead on this page" (templates/leads/_lead_table.html) ticks every row; unticking a row unticks it. The
  // server acts on the whole page when that box is ticked, so the bulk actions work without this script too.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches('input[type="checkbox"][form]')) return;
    var form = box.getAttribute("form");
    var group = box.getAttribute("data-select-all");
    if (group) {
      document.querySelectorAll('input[type="checkbox"][form="' + form + '"][name="' + group + '"]')
        .forEach(function (row) { row.checked = box.checked; });
    } else if (!box.checked) {
      document.querySelectorAll('input[data-select-all="' + box.name + '"][form="' + form + '"]')
        .forEach(function (all) { all.checked = false; });
    }
  });

  // The top bar's search (templates/base.html): Escape, or a click outside it, closes its dropdown of results.
  function closeSearch(except) {
    document.querySelectorAll("[data-topsearch]").forEach(function (form) {
      if (form !== except) form.querySelector(".topsearch-results").replaceChildren();
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeSearch(null);
  });
  document.addEventListener("click", function (event) {
    closeSearch(event.target.closest ? event.target.closest("[data-topsearch]") : null);
  });
})();
