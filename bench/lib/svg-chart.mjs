// A minimal line chart as an SVG string: categorical x axis, linear or log y axis,
// one polyline per series (null values break the line), legend on the right.

const escape = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceNumber(value) {
  if (value >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`;
  if (value >= 1) return `${+value.toPrecision(3)}`;
  return `${+value.toPrecision(2)}`;
}

function ticks(min, max, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
    return out;
  }
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const out = [];
  for (let v = Math.floor(min / unit) * unit; v <= max + unit / 2; v += unit) out.push(v);
  return out;
}

/**
 * @param {{ title: string, subtitle?: string, xLabel: string, yLabel: string, xValues: (string|number)[],
 *   log?: boolean, series: { name: string, color: string, dash?: string, values: (number|null)[] }[] }} spec
 */
export function lineChart(spec) {
  const width = 900;
  const height = 460;
  const margin = { top: 56, right: 290, bottom: 56, left: 78 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const values = spec.series.flatMap((s) => s.values).filter((v) => typeof v === "number" && v > 0);
  const log = spec.log ?? false;
  let yMin = values.length ? Math.min(...values) : 1;
  let yMax = values.length ? Math.max(...values) : 10;
  if (log) {
    yMin = 10 ** Math.floor(Math.log10(yMin));
    yMax = 10 ** Math.ceil(Math.log10(yMax));
    if (yMin === yMax) yMax = yMin * 10;
  } else {
    yMin = 0;
    yMax = yMax * 1.1 || 1;
  }
  const yTicks = ticks(yMin, yMax, log).filter((t) => t >= yMin && t <= yMax);
  const y = (v) => {
    const f = log ? (Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (v - yMin) / (yMax - yMin);
    return margin.top + plotH - f * plotH;
  };
  const n = spec.xValues.length;
  const x = (i) => margin.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${margin.left}" y="24" font-size="16" font-weight="600">${escape(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${margin.left}" y="42" fill="#555">${escape(spec.subtitle)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${margin.left - 8}" y="${y(t) + 4}" text-anchor="end" fill="#333">${niceNumber(t)}</text>`);
  }
  spec.xValues.forEach((label, i) => {
    out.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(i)}" y="${margin.top + plotH + 18}" text-anchor="middle" fill="#333">${escape(label)}</text>`);
  });
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escape(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}${log ? " (log scale)" : ""}</text>`);

  spec.series.forEach((s, index) => {
    let path = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (typeof v !== "number" || !(v > 0)) {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    if (path) out.push(`<path d="${path.trim()}" fill="none" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    s.values.forEach((v, i) => {
      if (typeof v === "number" && v > 0) out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.2" fill="${s.color}"><title>${escape(`${s.name}: ${niceNumber(v)}`)}</title></circle>`);
    });
    const ly = margin.top + 8 + index * 20;
    const lx = margin.left + plotW + 18;
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
