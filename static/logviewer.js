// The job page's log viewer. Only the lines in view (and a margin) are in the DOM; the
// rest load in pages as the reader scrolls, so a 50 MB log opens as fast as a small one.
// Sections fold (failed and running ones stay open), the address #L120 or #L120-L140
// marks lines, search steps through matches, and follow mode keeps the end in view.
// No inline script or style is allowed by the Content-Security-Policy: all is wired here.
"use strict";

(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function span(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + "s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "m " + String(seconds % 60).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }
  const ROW = 20; // px; matches .log-view .line in app.css
  const PAGE = 500;
  const MARGIN = 40;
  const MAX_HEIGHT = 8000000; // px; browsers cap element heights, so huge logs are scaled
  const CACHE_LIMIT = 20000;

  class LogViewer {
    constructor(root) {
      this.root = root;
      this.linesUrl = root.dataset.linesUrl;
      this.searchUrl = root.dataset.searchUrl;
      this.total = parseInt(root.dataset.total, 10) || 0;
      this.live = root.dataset.live === "true";
      this.cache = new Map();
      this.loading = new Set();
      this.overrides = new Map(); // section start -> collapsed?
      this.highlight = null; // [first, last]
      this.matches = [];
      this.matchIndex = -1;
      this.query = "";
      this.rendered = [-1, -1];
      this.follow = $("[data-log-follow]");
      this.autoScrolling = false;
      for (const line of $$(".line", root)) {
        const number = parseInt(line.id.slice(1), 10);
        const text = $(".lt", line);
        if (number && text) this.cache.set(number, text.innerHTML);
      }
      const sections = $("#log-sections");
      this.setSections(sections ? JSON.parse(sections.textContent) : []);
      root.textContent = "";
      this.spacer = document.createElement("div");
      this.spacer.className = "log-spacer";
      this.block = document.createElement("div");
      this.block.className = "log-lines";
      this.spacer.appendChild(this.block);
      root.appendChild(this.spacer);
      root.classList.add("virtual");
      root.addEventListener("scroll", () => this.onScroll(), { passive: true });
      root.addEventListener("click", (event) => this.onClick(event));
      window.addEventListener("hashchange", () => this.fromHash(true));
      window.addEventListener("resize", () => this.render(true));
      if (this.follow) {
        this.follow.addEventListener("change", () => { if (this.follow.checked) this.toBottom(); });
      }
      this.layout(false);
      if (!this.fromHash(false)) {
        this.toBottom();
        // A running job's page is for watching its log: bring the end of it into view.
        if (this.live && this.follow && this.follow.checked) root.scrollIntoView({ block: "nearest" });
      }
    }

    // Sections and folding ---------------------------------------------------------------
    setSections(list) {
      this.sections = list;
      const folds = $("[data-log-folds]");
      if (folds) folds.hidden = !list.length;
      this.starts = new Map(list.map((s) => [s.start, s]));
      this.ends = new Map(list.filter((s) => !s.open).map((s) => [s.end, s]));
      this.depth = [];
      this.computeHidden();
    }

    collapsed(section) {
      if (this.overrides.has(section.start)) return this.overrides.get(section.start);
      return !section.open && !section.failed; // finished and passed: folded; failed or running: open
    }

    computeHidden() {
      const ranges = this.sections
        .filter((s) => this.collapsed(s) && s.end > s.start)
        .map((s) => [s.start + 1, s.end])
        .sort((a, b) => a[0] - b[0]);
      const merged = [];
      for (const [a, b] of ranges) {
        const last = merged[merged.length - 1];
        if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
        else merged.push([a, b]);
      }
      this.hidden = merged;
      this.hiddenBefore = []; // lines hidden by the ranges before range i
      let sum = 0;
      for (const [a, b] of merged) {
        this.hiddenBefore.push(sum);
        sum += b - a + 1;
      }
      this.hiddenTotal = sum;
    }

    get rows() {
      return Math.max(this.total - this.hiddenTotal, 0);
    }

    // Row (0-based, among visible lines) -> line number, and back.
    lineOf(row) {
      const target = row + 1;
      let lo = 0, hi = this.hidden.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.hidden[mid][0] - 1 - this.hiddenBefore[mid] < target) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0) return target;
      const [a, b] = this.hidden[lo - 1];
      return target + this.hiddenBefore[lo - 1] + (b - a + 1);
    }

    rowOf(line) {
      let hiddenSoFar = 0;
      for (let i = 0; i < this.hidden.length; i++) {
        const [a, b] = this.hidden[i];
        if (line < a) break;
        if (line <= b) return a - 2 - this.hiddenBefore[i]; // inside a fold: its header
        hiddenSoFar = this.hiddenBefore[i] + (b - a + 1);
      }
      return line - 1 - hiddenSoFar;
    }

    toggle(start, collapse) {
      const section = this.starts.get(start);
      if (!section) return;
      const anchorRow = this.rowOf(start);
      const offset = anchorRow * ROW - this.virtualTop();
      this.overrides.set(start, collapse === undefined ? !this.collapsed(section) : collapse);
      this.computeHidden();
      this.layout();
      this.setVirtualTop(this.rowOf(start) * ROW - offset); // keep the header where it was
    }

    setAll(collapse) {
      for (const section of this.sections) this.overrides.set(section.start, collapse);
      this.computeHidden();
      this.layout();
    }

    reveal(line) {
      let changed = false;
      for (const section of this.sections) {
        if (section.start < line && line <= section.end && this.collapsed(section)) {
          this.overrides.set(section.start, false);
          changed = true;
        }
      }
      if (changed) {
        this.computeHidden();
        this.layout();
      }
    }

    // Geometry: a spacer as tall as all rows (scaled down past MAX_HEIGHT), and a block
    // of rendered rows placed where the viewport is.
    layout(render) {
      this.fullHeight = this.rows * ROW;
      this.height = Math.min(this.fullHeight, MAX_HEIGHT);
      this.spacer.style.height = this.height + "px";
      if (render !== false) this.render(true);
    }

    virtualTop() {
      const view = this.root.clientHeight;
      const room = this.height - view;
      if (room <= 0 || this.height === this.fullHeight) return this.root.scrollTop;
      return (this.root.scrollTop / room) * (this.fullHeight - view);
    }

    setVirtualTop(px) {
      const view = this.root.clientHeight;
      const room = this.height - view;
      px = Math.max(0, Math.min(px, this.fullHeight - view));
      const scrollTop = this.height === this.fullHeight || room <= 0 ? px : (px / (this.fullHeight - view)) * room;
      if (Math.abs(this.root.scrollTop - scrollTop) >= 1) {
        this.autoScrolling = true;
        this.root.scrollTop = scrollTop;
      }
      this.render(false);
    }

    atBottom() {
      return this.root.scrollHeight - this.root.scrollTop - this.root.clientHeight < ROW * 2;
    }

    toBottom() {
      this.setVirtualTop(this.fullHeight);
      this.render(true);
    }

    onScroll() {
      if (this.autoScrolling) {
        this.autoScrolling = false;
      } else if (this.follow && this.follow.checked && !this.atBottom()) {
        this.follow.checked = false; // the reader scrolled up to read: stop following
      }
      if (!this.frame) {
        this.frame = requestAnimationFrame(() => {
          this.frame = null;
          this.render(false);
        });
      }
    }

    render(force) {
      const top = this.virtualTop();
      const first = Math.floor(top / ROW);
      const count = Math.ceil(this.root.clientHeight / ROW) + 1;
      let [from, to] = this.rendered;
      if (force || first < from + 5 || first + count > to - 5 || from < 0) {
        from = Math.max(0, first - MARGIN);
        to = Math.min(this.rows, first + count + MARGIN);
        this.rendered = [from, to];
        this.fill(from, to);
      }
      // The block sits at the scroll position plus where its first row is in the log.
      this.block.style.transform = "translateY(" + Math.round(this.root.scrollTop + from * ROW - top) + "px)";
    }

    fill(from, to) {
      const parts = [];
      const missing = [];
      const currentMatch = this.matches[this.matchIndex];
      for (let row = from; row < to; row++) {
        const line = this.lineOf(row);
        const section = this.starts.get(line);
        const ending = this.ends.get(line);
        // A section's first and last lines come with the sections: a folded log loads no lines.
        let html = this.cache.get(line);
        if (html === undefined && section) html = section.html || "";
        if (html === undefined && ending) html = "";
        if (html === undefined) missing.push(line);
        const classes = ["line"];
        let lead = "";
        if (section) {
          const folded = this.collapsed(section);
          classes.push("section-head", section.failed ? "section-failed" : section.open ? "section-open" : "section-passed");
          const facts = sectionFacts(section);
          if (section.open) facts.push("running or cut off");
          lead =
            '<button type="button" class="fold" data-fold="' + line + '" aria-expanded="' + !folded + '">' +
            '<span aria-hidden="true">' + (folded ? "▸" : "▾") + "</span> " + escapeHtml(section.title) +
            "</button>" + (facts.length ? ' <span class="section-facts">' + facts.join(" · ") + "</span>" : "");
        }
        if (ending) {
          classes.push("section-end");
          if (!html) lead = '<span class="section-facts">end of ' + escapeHtml(ending.title) + (sectionFacts(ending).length ? ": " + sectionFacts(ending).join(" · ") : "") + "</span>";
        }
        const depth = this.depthOf(line);
        if (depth) classes.push("depth-" + Math.min(depth, 4));
        if (this.highlight && line >= this.highlight[0] && line <= this.highlight[1]) classes.push("hl");
        if (this.matchSet && this.matchSet.has(line)) classes.push(line === currentMatch ? "match match-current" : "match");
        parts.push(
          '<div class="' + classes.join(" ") + '" id="L' + line + '"><a class="ln" href="#L' + line + '">' + line +
          "</a>" + lead + '<span class="lt">' + (html === undefined ? '<span class="loading">…</span>' : html) + "</span></div>"
        );
      }
      this.block.innerHTML = parts.join("");
      if (this.query) this.markText();
      if (missing.length) this.load(missing);
    }

    depthOf(line) {
      // How many sections this line sits inside (for indenting), counted among few.
      let depth = 0;
      for (const section of this.sections) {
        if (section.start < line && line <= section.end) depth++;
        if (section.start > line) break;
      }
      return depth;
    }

    load(lines) {
      const pages = new Set(lines.map((line) => Math.floor((line - 1) / PAGE) * PAGE + 1));
      for (const first of pages) {
        if (this.loading.has(first)) continue;
        this.loading.add(first);
        fetch(this.linesUrl + "?from=" + first + "&count=" + PAGE, { credentials: "same-origin" })
          .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
          .then((data) => {
            data.lines.forEach((html, i) => this.cache.set(data.from + i, html));
            this.trim(first);
            this.render(true);
          })
          .catch(() => {})
          .finally(() => this.loading.delete(first));
      }
    }

    trim(near) {
      if (this.cache.size <= CACHE_LIMIT) return;
      for (const line of this.cache.keys()) {
        if (Math.abs(line - near) > CACHE_LIMIT / 2) this.cache.delete(line);
      }
    }

    // New output from the tail request (HTMX swaps #log-tail every few seconds).
    ingest(tail) {
      const chunk = $(".chunk", tail);
      if (chunk) {
        for (const line of $$("[data-n]", chunk)) this.cache.set(parseInt(line.dataset.n, 10), line.innerHTML);
        chunk.remove();
      }
      const following = this.follow && this.follow.checked;
      if (tail.dataset.sections) this.setSections(JSON.parse(tail.dataset.sections));
      this.total = parseInt(tail.dataset.total, 10) || this.total;
      this.live = tail.dataset.live === "true";
      const empty = $("#log-empty");
      if (empty && this.total) empty.remove();
      this.layout();
      if (following) this.toBottom();
      if (!this.live && this.follow) this.follow.checked = false;
    }

    // Line links -------------------------------------------------------------------------
    onClick(event) {
      const fold = event.target.closest("[data-fold]");
      if (fold) {
        this.toggle(parseInt(fold.dataset.fold, 10));
        return;
      }
      const number = event.target.closest("a.ln");
      if (!number) return;
      event.preventDefault();
      const line = parseInt(number.textContent, 10);
      let range = [line, line];
      if (event.shiftKey && this.highlight) range = [Math.min(this.highlight[0], line), Math.max(this.highlight[1], line)];
      const hash = range[0] === range[1] ? "#L" + range[0] : "#L" + range[0] + "-L" + range[1];
      history.replaceState(null, "", hash);
      this.highlight = range;
      this.render(true);
    }

    fromHash(scroll) {
      const found = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
      if (!found) return false;
      const a = parseInt(found[1], 10);
      const b = found[2] ? parseInt(found[2], 10) : a;
      this.highlight = [Math.min(a, b), Math.max(a, b)];
      if (this.follow) this.follow.checked = false;
      this.goTo(this.highlight[0]);
      this.root.scrollIntoView({ block: scroll ? "nearest" : "start" });
      return true;
    }

    goTo(line) {
      line = Math.max(1, Math.min(line, this.total || 1));
      this.reveal(line);
      this.setVirtualTop(this.rowOf(line) * ROW - this.root.clientHeight / 3);
      this.render(true);
    }

    // Search with next and previous ------------------------------------------------------
    search(query) {
      this.query = query;
      if (!query) {
        this.matches = [];
        this.matchSet = null;
        this.showCount("");
        this.render(true);
        return Promise.resolve();
      }
      this.showCount("searching…");
      return fetch(this.searchUrl + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          this.matches = data.matches;
          this.matchSet = new Set(data.matches);
          this.capped = data.capped;
          this.matchIndex = -1;
          if (!this.matches.length) {
            this.showCount("no match");
            this.render(true);
          } else {
            this.step(1);
          }
        });
    }

    step(direction) {
      if (!this.matches.length) return;
      const count = this.matches.length;
      this.matchIndex = (this.matchIndex + direction + count) % count;
      if (this.matchIndex < 0) this.matchIndex = 0;
      this.showCount((this.matchIndex + 1) + " of " + count + (this.capped ? "+" : ""));
      this.goTo(this.matches[this.matchIndex]);
    }

    showCount(text) {
      const nav = $("[data-log-nav]");
      const count = $("[data-log-count]");
      if (nav) nav.hidden = !text;
      if (count) count.textContent = text;
    }

    markText() {
      const needle = this.query.toLowerCase();
      for (const row of $$(".line.match .lt", this.block)) {
        const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
        const nodes = [];
        while (walker.nextNode()) nodes.push(walker.currentNode);
        for (const node of nodes) {
          const text = node.nodeValue;
          let at = text.toLowerCase().indexOf(needle);
          if (at < 0) continue;
          const fragment = document.createDocumentFragment();
          let from = 0;
          while (at >= 0) {
            fragment.appendChild(document.createTextNode(text.slice(from, at)));
            const mark = document.createElement("mark");
            mark.textContent = text.slice(at, at + needle.length);
            fragment.appendChild(mark);
            from = at + needle.length;
            at = text.toLowerCase().indexOf(needle, from);
          }
          fragment.appendChild(document.createTextNode(text.slice(from)));
          node.parentNode.replaceChild(fragment, node);
        }
      }
    }
  }

  function sectionFacts(section) {
    const facts = [];
    if (section.exit !== null && section.exit !== undefined) facts.push("exit " + section.exit);
    const took = section.seconds;
    if (took !== null && took !== undefined) facts.push(took < 60 ? took.toFixed(took < 10 ? 1 : 0) + "s" : span(took));
    return facts;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  let viewer = null;

  function wireLogTools() {
    const form = $("[data-log-search]");
    if (!form || !viewer) return;
    const input = $("input[name=q]", form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = input.value.trim();
      if (query && query === viewer.query && viewer.matches.length) viewer.step(1);
      else viewer.search(query);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.shiftKey) {
        event.preventDefault();
        if (input.value.trim() === viewer.query) viewer.step(-1);
        else viewer.search(input.value.trim());
      }
    });
    const prev = $("[data-log-prev]", form);
    const next = $("[data-log-next]", form);
    if (prev) prev.addEventListener("click", () => viewer.step(-1));
    if (next) next.addEventListener("click", () => viewer.step(1));
    const expand = $("[data-log-expand]");
    const collapse = $("[data-log-collapse]");
    if (expand) expand.addEventListener("click", () => viewer.setAll(false));
    if (collapse) collapse.addEventListener("click", () => viewer.setAll(true));
  }

  // After any swap: a new #log-tail carries new lines for the viewer.
  document.addEventListener("htmx:afterSwap", () => {
    const tail = $("#log-tail");
    if (viewer && tail && !tail.dataset.ingested) {
      tail.dataset.ingested = "1";
      viewer.ingest(tail);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const log = $("#log.log-view");
    if (!log) return;
    viewer = new LogViewer(log);
    window.logViewer = viewer; // for the browser tests
    wireLogTools();
  });
})();
