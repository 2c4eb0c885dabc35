// The dashboard's charts, drawn with Apache ECharts from the JSON the page embeds in #dashboard-data's data-charts attribute (no inline script: the CSP). The same
// numbers are in the table under each chart, which is what assistive technology reads (charts are aria-hidden).
// Tooltips are drawn on the canvas (richText): HTML tooltips would need inline styles, which the CSP forbids.
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) { return; }
  var charts = JSON.parse(source.getAttribute("data-charts") || "{}");
  var drawn = [];

  function seriesOf(chart, type, extra) {
    return chart.series.map(function (item) {
      var series = { name: item.name, type: type, data: item.data };
      Object.keys(extra || {}).forEach(function (key) { series[key] = extra[key]; });
      return series;
    });
  }

  function axisOption(chart, series) {
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { show: chart.series.length > 1, type: "scroll", top: 0 },
      grid: { left: 8, right: 16, top: chart.series.length > 1 ? 32 : 12, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: chart.categories, axisLabel: { interval: 0, rotate: chart.categories.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: series
    };
  }

  function optionFor(chart) {
    if (chart.kind === "funnel") {
      var data = chart.categories.map(function (name, index) { return { name: name, value: chart.series[0].data[index] }; });
      return {
        tooltip: { trigger: "item", renderMode: "richText" },
        series: [{ name: chart.series[0].name, type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "8%",
          label: { position: "inside", formatter: "{b}: {c}" }, data: data }]
      };
    }
    if (chart.kind === "stacked") { return axisOption(chart, seriesOf(chart, "bar", { stack: "total" })); }
    if (chart.kind === "line") { return axisOption(chart, seriesOf(chart, "line", { smooth: false })); }
    return axisOption(chart, seriesOf(chart, "bar"));
  }

  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var chart = charts[element.dataset.chart];
    if (!chart) { return; }
    var instance = window.echarts.init(element, null, { renderer: "canvas" });
    instance.setOption(optionFor(chart));
    drawn.push(instance);
  });

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () { drawn.forEach(function (instance) { instance.resize(); }); }, 150);
  });
})();
