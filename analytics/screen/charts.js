// Bar charts drawn as SVG by this page itself: no chart library, nothing from elsewhere.
"use strict";

const Charts = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function element(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // bars: [{label, value (a number), shown (its text)}]; every bar gets a tooltip.
  function bars(container, data, { height = 220 } = {}) {
    const width = Math.max(320, container.clientWidth || 640);
    const left = 56;
    const bottom = 34;
    const top = 10;
    const highest = Math.max(1, ...data.map((bar) => bar.value));
    const step = (width - left - 8) / Math.max(1, data.length);
    const svg = element("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + (1 - fraction) * (height - top - bottom);
      svg.append(element("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#d7dce3" }));
      svg.append(element("text", { x: left - 6, y: y + 4, "text-anchor": "end" },
        formatAxis(highest * fraction)));
    }
    const labelEvery = Math.ceil(data.length / Math.floor((width - left) / 60));
    data.forEach((bar, index) => {
      const barHeight = (bar.value / highest) * (height - top - bottom);
      const x = left + index * step + step * 0.12;
      const rect = element("rect", {
        class: "bar", x, width: Math.max(1, step * 0.76),
        y: height - bottom - barHeight, height: barHeight,
      });
      rect.append(element("title", {}, `${bar.label}: ${bar.shown}`));
      svg.append(rect);
      if (index % labelEvery === 0) {
        svg.append(element("text", {
          x: x + step * 0.38, y: height - bottom + 16, "text-anchor": "middle",
        }, bar.label));
      }
    });
    container.replaceChildren(svg);
  }

  function formatAxis(value) {
    return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 })
      .format(value);
  }

  return { bars };
})();
