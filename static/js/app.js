// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = button.getAttribute("data-copy");
  navigator.clipboard.writeText(text).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
// Move focus to the page title after a full navigation so screen readers announce it.
document.addEventListener("DOMContentLoaded", () => {
  const alert = document.querySelector(".alert-error, .has-error input");
  if (alert && alert.focus) alert.focus();
});
// A confirm form submits once: the button is disabled after the first click (the server also
// refuses a second payment for the same submit key).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-once]");
  if (!form) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
});
// Phones show each table row stacked (app.css): give every cell its column's name to show beside it.
function labelCells(root) {
  root.querySelectorAll(".table-wrap table").forEach((table) => {
    const names = [];
    table.querySelectorAll("thead tr:first-child th").forEach((th) => {
      for (let i = 0; i < (th.colSpan || 1); i += 1) names.push(th.textContent.trim());
    });
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      Array.from(row.cells).forEach((cell) => {
        if (names[column] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[column]);
        column += cell.colSpan || 1;
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", () => labelCells(document));
document.addEventListener("htmx:afterSettle", () => labelCells(document));
// Phones: the bottom bar's "More" unfolds the rest of the menu. Without JS the menu simply stays open.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  if (!toggle) return;
  toggle.hidden = false;
  document.documentElement.classList.add("js-nav");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
  });
});
// Print buttons (the receipt). Handlers live here, never in on*= attributes: the
// Content-Security-Policy runs no inline script.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
// HTMX leaves 4xx answers out; an element with data-swap-errors="400 429" has those statuses'
// messages swapped in like a success (the re-send token button: "no token", "slow down").
// htmx fires beforeSwap on the swap target; requestConfig.elt is the element that made the request.
document.addEventListener("htmx:beforeSwap", (event) => {
  const config = event.detail.requestConfig;
  const source = (config && config.elt) || event.target;
  const holder = source.closest && source.closest("[data-swap-errors]");
  if (!holder) return;
  const statuses = holder.getAttribute("data-swap-errors").split(/\s+/);
  if (statuses.includes(String(event.detail.xhr.status))) event.detail.shouldSwap = true;
});
