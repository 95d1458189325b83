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
})();
