// The benchmark's reports, as plain strings and objects (browser-safe): the speed, weights and
// breakdown tables, the JSON document and the SVG bar chart.
import type { BenchResult } from './runner.js';
import type { Breakdown } from './breakdown.js';

/** The engines every figure is also given relative to. */
export const BASELINES = ['xnnpack-f32', 'ort-int8'] as const;

/** Columns padded to their widest cell; `left` says which are text (left-aligned), the rest are numbers. */
function table(rows: string[][], left: (column: number) => boolean): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
}
const firstTwo = (i: number) => i < 2;

/**
 * ms, GMAC/s and speed relative to xnnpack-f32 and ort-int8 on the same layer (the baseline's
 * ms over the engine's: above 1 is faster), '-' where a baseline was not run.
 */
export function formatTable(results: readonly BenchResult[]): string {
  const rows = [['layer', 'engine', 'ms', 'GMAC/s', ...BASELINES.map((b) => `vs ${b}`), '±%']];
  let last = '';
  for (const r of results) {
    const ratio = (base: string) => {
      const b = results.find((x) => x.layer === r.layer && x.engine === base);
      return b ? `${(b.ms / r.ms).toFixed(2)}x` : '-';
    };
    rows.push([r.layer === last ? '' : r.layer, r.engine, r.ms.toFixed(3), r.gmacs.toFixed(1), ...BASELINES.map(ratio), r.rme.toFixed(1)]);
    last = r.layer;
  }
  return table(rows, firstTwo);
}

/** One-off preparation time and the weight bytes each engine keeps, against float32. */
export function formatWeights(results: readonly BenchResult[]): string {
  const rows = [['layer', 'engine', 'prep ms', 'weight bytes', 'x f32', 'SQNR dB', 'counted']];
  let last = '';
  for (const r of results) {
    rows.push([r.layer === last ? '' : r.layer, r.engine, r.prepMs.toFixed(1), String(r.resident.bytes),
      (r.resident.bytes / r.float32Bytes).toFixed(3), Number.isFinite(r.sqnr) ? r.sqnr.toFixed(1) : 'exact', r.resident.note]);
    last = r.layer;
  }
  return table(rows, (i) => i < 2 || i === rows[0].length - 1);
}

/** Each phase's share of a forward() call, percent, and the call's mean ms. */
export function formatBreakdown(breakdowns: readonly Breakdown[]): string {
  const phases = breakdowns.length ? Object.keys(breakdowns[0].phases) : [];
  const rows = [['layer', 'engine', 'ms', ...phases.map((p) => `${p} %`)]];
  let last = '';
  for (const b of breakdowns) {
    rows.push([b.layer === last ? '' : b.layer, b.engine, b.ms.toFixed(3),
      ...phases.map((p) => (100 * b.phases[p as keyof Breakdown['phases']] / b.ms).toFixed(1))]);
    last = b.layer;
  }
  return table(rows, firstTwo);
}

export interface BenchJson {
  node: string;
  relaxed: boolean;
  results: { layer: string; macs: number; engine: string; threads: number; ms: number; gmacs: number }[];
}

/** The `--json` document: exactly these keys, nothing else. */
export function benchJson(results: readonly BenchResult[], env: { node: string; relaxed: boolean }): BenchJson {
  return {
    node: env.node,
    relaxed: env.relaxed,
    results: results.map((r) => ({ layer: r.layer, macs: r.macs, engine: r.engine, threads: r.threads, ms: r.ms, gmacs: r.gmacs })),
  };
}

/**
 * The table of docs/BENCHMARKS.md, from a --json document: GMAC/s per layer (rows) and engine (columns), then
 * the speed of dsconv-int4 and dsconv-int8 relative to each baseline that was run.
 */
export function markdownTable(doc: BenchJson): string {
  const layers = [...new Set(doc.results.map((r) => r.layer))];
  const engines = [...new Set(doc.results.map((r) => r.engine))];
  const get = (layer: string, engine: string) => doc.results.find((r) => r.layer === layer && r.engine === engine);
  const pairs = ['dsconv-int4', 'dsconv-int8'].filter((e) => engines.includes(e))
    .flatMap((e) => BASELINES.filter((b) => engines.includes(b)).map((b) => [e, b]));
  const head = ['layer (batch 1)', 'MMAC', ...engines, ...pairs.map(([e, b]) => `${e.replace('dsconv-', '')} vs ${b}`)];
  const lines = [`| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '---:').join('|')}|`];
  for (const layer of layers) {
    const macs = doc.results.find((r) => r.layer === layer)!.macs;
    const cells = engines.map((e) => { const r = get(layer, e); return r ? r.gmacs.toFixed(1) : '-'; });
    const ratios = pairs.map(([e, b]) => { const x = get(layer, e), y = get(layer, b); return x && y ? `${(y.ms / x.ms).toFixed(2)}x` : '-'; });
    lines.push(`| ${layer.replace('->', '→')} | ${(macs / 1e6).toFixed(1)} | ${[...cells, ...ratios].join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' } as Record<string, string>)[c]};`);

/** Colours by engine, distinguishable in print; engines beyond these cycle through them. */
const COLOURS = ['#1b6ca8', '#6fb1e4', '#9aa5b1', '#d9822b', '#2e8b57', '#c0392b', '#7d3c98'];

/** A tick step of 1, 2 or 5 times a power of ten giving about five ticks up to `max`. */
function tickStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

/**
 * A grouped bar chart of GMAC/s: one group per layer, one bar per engine (in the results'
 * order), a legend, a y axis, and a title naming the machine and Node version. Pure string.
 */
export function benchSvg(results: readonly BenchResult[], env: { machine: string; node: string; note?: string }): string {
  const layers = [...new Set(results.map((r) => r.layer))];
  const engines = [...new Set(results.map((r) => r.engine))];
  const bar = 12, gap = 34, left = 60, top = 64, plotH = 300, bottom = 70;
  const groupW = engines.length * bar + gap;
  const width = Math.max(640, left + layers.length * groupW + 20);
  const height = top + plotH + bottom;
  const max = Math.max(1e-9, ...results.map((r) => r.gmacs));
  const step = tickStep(max);
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const f = (v: number) => Number(v.toFixed(1));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(`dsconv bench: GMAC/s per layer (batch 1, one thread), higher is faster`)}</text>`,
    `<text x="${left}" y="38">${escapeXml(`${env.machine}, Node ${env.node}${env.note ? `, ${env.note}` : ''}`)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#e3e3e3"/>`,
      `<text x="${left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${Number(v.toPrecision(6))}</text>`);
  }
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">GMAC/s</text>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${width - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  layers.forEach((layer, li) => {
    const x0 = left + gap / 2 + li * groupW;
    engines.forEach((engine, ei) => {
      const r = results.find((x) => x.layer === layer && x.engine === engine);
      if (!r) return;
      out.push(`<rect class="bar" data-layer="${escapeXml(layer)}" data-engine="${escapeXml(engine)}" x="${f(x0 + ei * bar)}" y="${f(y(r.gmacs))}" width="${bar - 1}" height="${f(top + plotH - y(r.gmacs))}" fill="${COLOURS[ei % COLOURS.length]}"><title>${escapeXml(`${layer}, ${engine}: ${r.gmacs.toFixed(1)} GMAC/s, ${r.ms.toFixed(3)} ms`)}</title></rect>`);
    });
    // Two label lines: the network, then the shape.
    const cx = f(x0 + (engines.length * bar) / 2);
    const [net, ...shape] = layer.split(' ');
    out.push(`<text x="${cx}" y="${top + plotH + 16}" text-anchor="middle">${escapeXml(net)}</text>`,
      `<text x="${cx}" y="${top + plotH + 30}" text-anchor="middle" font-size="9">${escapeXml(shape.join(' '))}</text>`);
  });
  const legendY = top + plotH + 50;
  let lx = left;
  engines.forEach((engine, ei) => {
    out.push(`<rect x="${lx}" y="${legendY - 9}" width="10" height="10" fill="${COLOURS[ei % COLOURS.length]}"/>`,
      `<text x="${lx + 14}" y="${legendY}">${escapeXml(engine)}</text>`);
    lx += 24 + engine.length * 7;
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
