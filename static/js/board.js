/* The pipeline board (templates/leads/board.html): drag and drop, arrow-key moves, the won/lost dialog, and the
   stage links of the phone layout. Every move goes through the card's own "Move to…" form (htmx posts it to
   leads:board-move), and won or lost through its "Won…"/"Lost…" link (the close dialog), so a drop, a key and a
   click are one code path; without JavaScript that form and link still work. The server answers a move with the
   two columns' new headers and the card on top of its new column (leads/_board_moved.html), then fires
   "relay:card-moved"; a refusal redraws the board with its message and fires "relay:board-refused". */
(function () {
  "use strict";

  var CARD = "li.lead-card";
  var dragged = null; // the card being dragged
  var returnFocusTo = null; // the lead whose card gets the focus back once the dialog closes or the move lands

  function board() { return document.getElementById("board"); }
  function dialog() { return document.getElementById("board-dialog"); }

  function targetsOf(card) {
    return (card.getAttribute("data-targets") || "").split(" ").filter(Boolean);
  }

  function columnStages() {
    return Array.prototype.map.call(document.querySelectorAll("#board .board-column"), function (column) {
      return column.getAttribute("data-stage");
    });
  }

  // One move, whatever asked for it: won and lost open the close dialog, any other stage posts the card's form.
  function moveCard(card, stage) {
    var lead = card.getAttribute("data-lead");
    if (stage === "won" || stage === "lost") {
      var link = card.querySelector('a[data-close="' + stage + '"]');
      if (link) {
        returnFocusTo = lead;
        link.click(); // htmx fetches the dialog's form into #board-dialog-body
      }
      return;
    }
    var button = card.querySelector('form.card-move button[name="stage"][value="' + stage + '"]');
    if (!button) return;
    returnFocusTo = card.contains(document.activeElement) ? lead : null;
    card.classList.add("pending");
    button.click(); // htmx posts the form with this button's stage
  }

  // --- drag and drop ---------------------------------------------------------------------------------------
  function clearDrag() {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    var root = board();
    if (root) root.classList.remove("is-dragging");
    document.querySelectorAll(".board-column.drop-ok, .board-column.drop-over").forEach(function (column) {
      column.classList.remove("drop-ok", "drop-over");
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(CARD + '[draggable="true"]');
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-lead"));
    card.classList.add("dragging");
    board().classList.add("is-dragging");
    var targets = targetsOf(card);
    document.querySelectorAll("#board .board-column").forEach(function (column) {
      if (targets.indexOf(column.getAttribute("data-stage")) >= 0) column.classList.add("drop-ok");
    });
  });

  document.addEventListener("dragend", clearDrag);

  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var column = event.target.closest && event.target.closest(".board-column.drop-ok");
    if (!column) return;
    event.preventDefault(); // allows the drop here
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".board-column.drop-over").forEach(function (other) {
      if (other !== column) other.classList.remove("drop-over");
    });
    column.classList.add("drop-over");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board-column.drop-over");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-over");
  });

  document.addEventListener("drop", function (event) {
    if (!dragged) return;
    var column = event.target.closest && event.target.closest(".board-column.drop-ok");
    var card = dragged;
    clearDrag();
    if (!column) return;
    event.preventDefault();
    moveCard(card, column.getAttribute("data-stage"));
  });

  // --- keyboard: ← → move the focused card to the previous or next stage it may go to; ↑ ↓ go between cards ---
  function say(text) {
    var status = document.getElementById("board-status");
    if (status && text) status.textContent = text;
  }

  function focusCard(card) {
    if (!card) return;
    var link = card.querySelector("a.card-title") || card;
    link.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var key = event.key;
    if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].indexOf(key) < 0) return;
    var target = event.target;
    if (!target.matches || !(target.matches(CARD) || target.matches(CARD + " > a.card-title"))) return;
    var card = target.closest(CARD);
    event.preventDefault();
    if (key === "ArrowUp" || key === "ArrowDown") {
      var sibling = key === "ArrowUp" ? card.previousElementSibling : card.nextElementSibling;
      while (sibling && !sibling.matches(CARD)) {
        sibling = key === "ArrowUp" ? sibling.previousElementSibling : sibling.nextElementSibling;
      }
      focusCard(sibling);
      return;
    }
    var stages = columnStages();
    var targets = targetsOf(card);
    var step = key === "ArrowRight" ? 1 : -1;
    for (var i = stages.indexOf(card.getAttribute("data-stage")) + step; i >= 0 && i < stages.length; i += step) {
      if (targets.indexOf(stages[i]) >= 0) {
        returnFocusTo = card.getAttribute("data-lead");
        moveCard(card, stages[i]);
        return;
      }
    }
    say(board().getAttribute(step > 0 ? "data-no-move-right" : "data-no-move-left"));
  });

  // --- after the server answered -----------------------------------------------------------------------------
  document.addEventListener("relay:card-moved", function (event) {
    var detail = event.detail || {};
    var box = dialog();
    if (box && box.open) {
      returnFocusTo = null; // the card itself takes the focus below
      box.close();
    }
    var card = document.getElementById("lead-card-" + detail.lead);
    if (!card) return; // the board's filter leaves it out
    card.classList.remove("just-moved");
    void card.offsetWidth; // restart the animation when the same card moves twice in a row
    card.classList.add("just-moved");
    card.scrollIntoView({ block: "nearest", inline: "nearest", behavior: "smooth" });
    var focusLost = !document.activeElement || document.activeElement === document.body;
    if (focusLost || String(returnFocusTo) === String(detail.lead)) {
      var link = card.querySelector("a.card-title") || card;
      link.focus({ preventScroll: true });
    }
    returnFocusTo = null;
  });

  document.addEventListener("relay:board-refused", function () {
    var box = dialog();
    if (box && box.open) box.close();
    document.querySelectorAll(CARD + ".pending").forEach(function (card) { card.classList.remove("pending"); });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "board-dialog-body") return;
    var box = dialog();
    if (!box.open) box.showModal();
    var field = box.querySelector(".has-error input, .has-error select, .has-error textarea") ||
      box.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  });

  // A request that got no answer to show (network down, a 500): the card is not left looking half-moved.
  document.addEventListener("htmx:responseError", function () {
    document.querySelectorAll(CARD + ".pending").forEach(function (card) { card.classList.remove("pending"); });
    var root = board();
    if (root) say(root.getAttribute("data-failed"));
  });
  document.addEventListener("htmx:sendError", function () {
    document.querySelectorAll(CARD + ".pending").forEach(function (card) { card.classList.remove("pending"); });
    var root = board();
    if (root) say(root.getAttribute("data-failed"));
  });

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("#board-dialog [data-dialog-cancel]");
    if (cancel) {
      event.preventDefault();
      dialog().close();
      return;
    }
    // Phone layout: a stage link swipes the strip to its column without jumping the page.
    var tab = event.target.closest && event.target.closest(".stage-tabs a");
    if (tab) {
      var column = document.getElementById(tab.getAttribute("href").slice(1));
      if (!column) return;
      event.preventDefault();
      column.scrollIntoView({ block: "nearest", inline: "start", behavior: "smooth" });
    }
  });

  document.addEventListener("close", function (event) {
    if (event.target !== dialog()) return;
    document.getElementById("board-dialog-body").textContent = "";
    if (returnFocusTo) focusCard(document.getElementById("lead-card-" + returnFocusTo));
    returnFocusTo = null;
  }, true);

  // Phone layout: the link of the column in view is marked current.
  function markCurrentTab(strip) {
    var tabs = document.querySelectorAll(".stage-tabs a");
    if (!tabs.length || !strip.clientWidth) return;
    var index = Math.round(strip.scrollLeft / strip.clientWidth);
    tabs.forEach(function (tab, i) {
      if (i === index) tab.setAttribute("aria-current", "true");
      else tab.removeAttribute("aria-current");
    });
  }

  document.addEventListener("scroll", function (event) {
    if (event.target.classList && event.target.classList.contains("leads-board")) markCurrentTab(event.target);
  }, true);

  // The board needs the screen's height: its filters start folded unless one is set. relay.js opens filter boxes
  // on wide screens when the page loads and when htmx processes it; these listeners sit on the window, so they run
  // after relay.js's (on the document) for the same events, before the page is painted.
  function foldFilters() {
    var page = document.querySelector(".pipeline");
    var box = page && page.querySelector("details.filter-box");
    if (box && page.getAttribute("data-filters-active") !== "true") box.open = false;
  }
  // The columns end at the screen's bottom wherever they start (static/css/leads.css --board-top): below the
  // filters, open or folded, and below a refusal's message.
  function fitBoard() {
    var page = document.querySelector(".pipeline");
    var strip = page && page.querySelector(".leads-board");
    if (!strip) return;
    var top = strip.getBoundingClientRect().top + window.scrollY;
    page.style.setProperty("--board-top", Math.round(top) + "px");
  }

  window.addEventListener("DOMContentLoaded", function () {
    foldFilters();
    fitBoard();
  });
  window.addEventListener("htmx:load", function (event) {
    if (event.target === document.body) foldFilters();
    if (event.target === document.body || event.target.id === "board") fitBoard();
  });
  window.addEventListener("resize", fitBoard);
  document.addEventListener("toggle", function (event) {
    if (event.target.matches && event.target.matches("details.filter-box")) fitBoard();
  }, true);

  function init() {
    var strip = document.querySelector(".leads-board");
    if (strip) markCurrentTab(strip);
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:load", function (event) {
    if (event.target.id === "board") init();
  });
})();
