// Behaviour for every page. The Content-Security-Policy allows no inline script, style
// or event handler, so everything interactive is wired here from classes and data-
// attributes. Sections: polling, times, navigation, keyboard, favicon. The job page's
// log viewer is static/logviewer.js.
"use strict";

(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // ---- Polling -------------------------------------------------------------------------
  // Elements marked data-poll refresh on a timer; a hidden tab skips its turns.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) event.preventDefault();
  });
  // The wallboard says when it cannot reach the dashboard, and keeps the last state.
  const lostContact = (event) => {
    const wall = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-wall]");
    const note = wall && $("[data-wall-lost]", wall);
    if (note) note.hidden = false;
  };
  document.addEventListener("htmx:sendError", lostContact);
  document.addEventListener("htmx:responseError", lostContact);

  // ---- Times ---------------------------------------------------------------------------
  // <time datetime> elements: relative words kept current, absolute times in the
  // viewer's own zone with the zone named, and running durations that tick.
  const absolute = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  const absoluteSeconds = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZoneName: "short",
  });
  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

  function inWords(date, past) {
    let seconds = (date.getTime() - Date.now()) / 1000;
    if (past && seconds > 0) seconds = 0; // a clock a little ahead of ours
    const size = Math.abs(seconds);
    if (size < 45) return relative.format(Math.round(seconds), "second");
    for (const [unit, length] of UNITS) {
      if (size >= length * 0.9) return relative.format(Math.round(seconds / length), unit);
    }
    return relative.format(Math.round(seconds / 60), "minute");
  }

  function span(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + "s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "m " + String(seconds % 60).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }

  function renderTimes(root) {
    for (const el of $$("time[datetime]", root)) {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) continue;
      if (el.hasAttribute("data-relative")) {
        el.textContent = inWords(date, el.dataset.relative === "past");
        el.title = absoluteSeconds.format(date);
      } else if (el.hasAttribute("data-absolute")) {
        el.textContent = absolute.format(date);
      } else if (el.hasAttribute("data-elapsed")) {
        el.textContent = span((Date.now() - date.getTime()) / 1000);
        el.title = "since " + absoluteSeconds.format(date);
      } else if (el.hasAttribute("data-clock")) {
        el.textContent = clock.format(date);
      }
    }
  }
  setInterval(() => { if (!document.hidden) renderTimes(document); }, 1000);

  // ---- Navigation ----------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    document.body.classList.toggle("nav-open", open);
  });

  // Boxes that scroll sideways on a narrow screen (wide tables, the job graph) take the
  // keyboard focus, so they can be scrolled without a pointer.
  function markScrollables(root) {
    for (const box of $$(".table-scroll, main table, main pre, .dag", root)) {
      const style = getComputedStyle(box);
      const scrolls = /(auto|scroll)/.test(style.overflowX) && box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.scrollFocus = "1";
      } else if (!scrolls && box.dataset.scrollFocus) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    }
  }
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => markScrollables(document), 200);
  });

  // ---- Keyboard ------------------------------------------------------------------------
  // "/" focuses the page's search; "j" and "k" move through the rows of a list and
  // Enter opens the selected one.
  let listIndex = -1;
  const listRows = () => $$(".kb-list tbody tr, .tiles .tile").filter((row) => $("a[href]", row) && row.offsetParent !== null);

  function selectRow(index) {
    const rows = listRows();
    if (!rows.length) return;
    listIndex = Math.max(0, Math.min(index, rows.length - 1));
    rows.forEach((row, i) => row.classList.toggle("kb-selected", i === listIndex));
    const link = $("a[href]", rows[listIndex]);
    link.focus({ preventScroll: true });
    rows[listIndex].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "/") {
      const search = $("[data-search]") || $("input[type=search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "j" || event.key === "k") {
      const rows = listRows();
      if (!rows.length) return;
      event.preventDefault();
      const current = rows.findIndex((row) => row.contains(document.activeElement));
      const from = current >= 0 ? current : listIndex;
      selectRow(from < 0 ? 0 : from + (event.key === "j" ? 1 : -1));
    }
  });
  // A list refreshed by HTMX keeps the selected row.
  document.addEventListener("htmx:afterSettle", () => {
    if (listIndex >= 0 && (document.activeElement === document.body || !document.activeElement)) selectRow(listIndex);
  });

  // ---- Favicon -------------------------------------------------------------------------
  // The tab's icon shows the overall state: red, running, green (or grey before a sync).
  function updateFavicon() {
    const url = document.body.dataset.statusUrl;
    const icon = $("link[rel=icon][data-favicon-base]");
    if (!url || !icon || document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => {
        if (!data || !/^[a-z]+$/.test(data.state)) return;
        icon.href = icon.dataset.faviconBase + data.state + ".svg";
        document.body.dataset.overallState = data.state;
      })
      .catch(() => {});
  }

  document.addEventListener("htmx:load", (event) => {
    renderTimes(event.detail.elt);
    markScrollables(document);
  });

  document.addEventListener("DOMContentLoaded", () => {
    renderTimes(document);
    markScrollables(document);
    updateFavicon();
    setInterval(updateFavicon, 30000);
  });
})();
