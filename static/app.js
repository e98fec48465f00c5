// Keep a live log scrolled to the bottom while the reader has not scrolled up.
document.addEventListener("htmx:beforeSwap", (event) => {
  const log = document.getElementById("log");
  if (log && log.contains(event.detail.target)) {
    log.dataset.follow = (log.scrollHeight - log.scrollTop - log.clientHeight < 40) ? "1" : "";
  }
});
document.addEventListener("htmx:afterSettle", () => {
  const log = document.getElementById("log");
  if (log && log.dataset.follow) log.scrollTop = log.scrollHeight;
});
document.addEventListener("DOMContentLoaded", () => {
  const log = document.getElementById("log");
  if (log) log.scrollTop = log.scrollHeight;
});
