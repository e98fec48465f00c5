// Insights charts: drawn with uPlot (static/vendor) from the JSON block the page carries
// (<script type="application/json" id="insights-charts">), so the page needs no inline
// script. Hovering shows each series' value in the legend; clicking a day opens the builds
// of that day. The same numbers are in a table under every chart.
(function () {
  "use strict";

  // Okabe-Ito: distinguishable with every common colour-vision deficiency.
  const TONES = {
    black: "#000000", orange: "#E69F00", sky: "#56B4E9", green: "#009E73",
    yellow: "#F0E442", blue: "#0072B2", vermillion: "#D55E00", purple: "#CC79A7",
  };
  const HEIGHT = 220;

  function human(seconds) {
    if (seconds === 0) return "0 s";
    if (seconds < 1) return "< 1 s";
    let total = Math.round(seconds);
    if (total < 60) return total + " s";
    let minutes = Math.floor(total / 60), secs = total % 60;
    if (minutes < 60) return secs ? minutes + " m " + secs + " s" : minutes + " m";
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " m" : hours + " h";
    const days = Math.floor(hours / 24);
    hours %= 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }

  function format(unit, value) {
    if (value === null || value === undefined) return "—";
    if (unit === "seconds") return human(value);
    if (unit === "percent") return (Math.round(value * 10) / 10) + " %";
    return String(Math.round(value * 100) / 100);
  }

  function day(epoch) {
    return new Date(epoch * 1000).toISOString().slice(0, 10);
  }

  function yRange(unit) {
    if (unit === "percent") return [0, 100];
    return function (u, min, max) {
      return [0, Math.max(max || 0, unit === "seconds" ? 60 : 1) * 1.1];
    };
  }

  // Tick steps people read easily: whole days, round durations, whole counts.
  const DAY = 86400;
  const X_STEPS = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];
  const Y_STEPS = {
    seconds: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, DAY, 2 * DAY, 7 * DAY],
    percent: [10, 20, 25, 50],
    count: [0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000],
  };

  function width(el) {
    return Math.max(el.clientWidth, 280);
  }

  function draw(el, spec) {
    const opts = {
      width: width(el),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: yRange(spec.unit) } },
      axes: [
        {
          stroke: "#1d2430",
          grid: { stroke: "#eceff3" },
          incrs: X_STEPS,
          values: function (u, ticks) { return ticks.map(function (t) { return day(t).slice(5); }); },
        },
        {
          stroke: "#1d2430",
          grid: { stroke: "#eceff3" },
          size: 72,
          incrs: Y_STEPS[spec.unit] || Y_STEPS.count,
          values: function (u, ticks) { return ticks.map(function (v) { return format(spec.unit, v); }); },
        },
      ],
      series: [{ label: "day", value: function (u, v) { return v === null ? "—" : day(v); } }].concat(
        spec.series.map(function (s) {
          return {
            label: s.label,
            stroke: TONES[s.tone] || TONES.black,
            width: 2,
            dash: s.dash ? [6, 4] : undefined,
            points: { show: true, size: 6, fill: TONES[s.tone] || TONES.black },
            value: function (u, v) { return format(spec.unit, v); },
          };
        })
      ),
      cursor: { points: { size: 9 } },
      legend: { live: true },
    };
    const data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    const plot = new uPlot(opts, data, el);
    if (spec.links && spec.links.length) {
      plot.over.classList.add("clickable");
      plot.over.title = "Click a day to open its builds";
      plot.over.addEventListener("click", function () {
        const i = plot.cursor.idx;
        if (i !== null && i !== undefined && spec.links[i]) window.location.assign(spec.links[i]);
      });
    }
    el.uplot = plot;
    el.dataset.drawn = "true";
    return plot;
  }

  function drawAll() {
    const block = document.getElementById("insights-charts");
    if (!block || typeof uPlot === "undefined") return;
    const drawn = [];
    JSON.parse(block.textContent).forEach(function (spec) {
      const el = document.querySelector('[data-chart="' + CSS.escape(spec.id) + '"]');
      if (el) drawn.push([el, draw(el, spec)]);
    });
    let pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        drawn.forEach(function (pair) { pair[1].setSize({ width: width(pair[0]), height: HEIGHT }); });
      }, 150);
    });
  }

  function autoSubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawAll();
    autoSubmit();
  });
})();
