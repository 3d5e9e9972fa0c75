// Keyboard shortcuts of the ticket queue: j/k select, o or Enter open, x tick, / search, ? help.
(function () {
  "use strict";
  var index = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-ticket-row]"));
  }

  function select(next) {
    var all = rows();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, next));
    all.forEach(function (row, i) { row.classList.toggle("is-selected", i === index); });
    var link = all[index].querySelector("[data-ticket-link]");
    if (link) { link.focus(); }
  }

  function current() {
    var all = rows();
    return index >= 0 && index < all.length ? all[index] : null;
  }

  function toggleHelp() {
    var panel = document.getElementById("shortcut-help");
    var button = document.querySelector("[data-shortcuts-toggle]");
    if (!panel) { return; }
    panel.hidden = !panel.hidden;
    if (button) { button.setAttribute("aria-expanded", String(!panel.hidden)); }
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var row = current();
    switch (event.key) {
      case "j": select(index + 1); break;
      case "k": select(index < 0 ? 0 : index - 1); break;
      case "o":
      case "Enter":
        if (!row) { return; }
        var link = row.querySelector("[data-ticket-link]");
        if (link) { window.location.assign(link.href); }
        break;
      case "x":
        if (!row) { return; }
        var box = row.querySelector("input[type=checkbox]");
        if (box) { box.checked = !box.checked; }
        break;
      case "/":
        var search = document.getElementById("id_q");
        if (search) { search.focus(); search.select(); }
        break;
      case "?": toggleHelp(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-toggle]")) { toggleHelp(); }
  });

  // A new page of results replaces the rows; the selection starts again.
  document.addEventListener("htmx:afterSwap", function () { index = -1; });
})();
