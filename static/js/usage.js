// The usage page: draws its two charts with uPlot (vendored: uPlot.iife.min.js)
// from the numbers the page carries as JSON (#usage-data). The tables below
// the charts hold the same numbers, so the page says everything without this.
// Drawn again when the window's width changes and when the system switches
// between light and dark. A filter that changes submits the filters' form.
(function () {
  "use strict";
  const PALETTE = ["#4b5cf0", "#e8590c", "#2b9a4b", "#d6336c", "#1098ad", "#f59f00", "#868e96"];
  const HEIGHT = 240;
  let charts = [];
  let drawnWidth = 0;

  function colours() {
    const css = getComputedStyle(document.documentElement);
    const read = (name) => css.getPropertyValue(name).trim();
    return { fg: read("--fg"), line: read("--line"), ok: read("--ok"), bad: read("--bad") };
  }

  // Steps between the ticks of a count: whole numbers only (uPlot would pick 0.2 for a few).
  const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

  function axes(colour, yFormat, ySteps) {
    const grid = { stroke: colour.line, width: 1 };
    const y = { stroke: colour.fg, grid: grid, ticks: grid, size: 64, values: (u, ticks) => ticks.map(yFormat) };
    if (ySteps) y.incrs = ySteps;
    return [{ stroke: colour.fg, grid: grid, ticks: grid }, y];
  }

  function options(box, colour, series, yFormat, ySteps) {
    return {
      width: box.clientWidth,
      height: HEIGHT,
      // x is each period's first day at 00:00 UTC: read in UTC it is the team's calendar day.
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      axes: axes(colour, yFormat, ySteps),
      series: [{ label: "Period" }].concat(series),
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  function line(label, stroke, format) {
    return { label: label, stroke: stroke, width: 2, points: { show: true, size: 5 }, value: (u, v) => (v == null ? "—" : format(v)) };
  }

  const credits = (value) => Number(value).toFixed(2);
  const whole = (value) => String(Math.round(value));

  function draw() {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const source = document.getElementById("usage-data");
    if (!source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    const colour = colours();
    const spend = document.querySelector('[data-chart="charged"]');
    if (spend) {
      const series = data.charged.map((s, i) => line(s.label, PALETTE[i % PALETTE.length], credits));
      const values = data.charged.map((s) => s.values);
      charts.push(new uPlot(options(spend, colour, series, credits), [data.x].concat(values), spend));
    }
    const made = document.querySelector('[data-chart="generations"]');
    if (made) {
      const series = [line("Succeeded", colour.ok, whole), line("Failed", colour.bad, whole)];
      const drawn = options(made, colour, series, whole, COUNT_STEPS);
      charts.push(new uPlot(drawn, [data.x, data.succeeded, data.failed], made));
    }
    drawnWidth = window.innerWidth;
  }

  let pending = false;
  window.addEventListener("resize", () => {
    if (pending || window.innerWidth === drawnWidth) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-apply-on-change]");
    if (form) form.requestSubmit();
  });
})();
