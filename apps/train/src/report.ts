/**
 * `selfpatch-train report`: curves of a run's metrics.jsonl (loss terms, lr, weight decay, teacher
 * momentum, teacher temperature, throughput) as an HTML page of inline SVG charts, or a PNG
 * (the same SVG rasterised by sharp). Hand-written SVG: a dozen polylines do not justify a
 * charting library and its browser runtime; the page must open offline.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import sharp from 'sharp';
import { ConfigError } from '@selfpatch/nn';
import { writeFileAtomic } from '@selfpatch/checkpoint/node';
import type { MetricsRecord } from './run.js';

interface Series {
  name: string;
  values: Array<[number, number]>;
}

interface Chart {
  title: string;
  series: Series[];
  log?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const W = 460;
const H = 240;
const PAD = { l: 62, r: 12, t: 28, b: 34 };

export function readMetrics(path: string): MetricsRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--run', `cannot read ${path}: ${(err as Error).message}`);
  }
  const rows: MetricsRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as MetricsRecord);
    } catch {
      throw new ConfigError('--run', `${path}:${i + 1} is not a JSON line`);
    }
  });
  if (rows.length === 0) throw new ConfigError('--run', `${path} has no steps yet`);
  return rows;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : v.toPrecision(3);
}

function chartSvg(c: Chart, x0: number, y0: number): string {
  const pts = c.series.flatMap((s) => s.values);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]).filter(Number.isFinite);
  const xmin = Math.min(...xs);
  const xmax = Math.max(...xs, xmin + 1);
  let ymin = Math.min(...ys);
  let ymax = Math.max(...ys);
  if (ymax - ymin < 1e-12 * Math.max(1, Math.abs(ymax))) {
    ymin -= Math.abs(ymin) * 0.05 + 1e-9;
    ymax += Math.abs(ymax) * 0.05 + 1e-9;
  }
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const px = (x: number) => x0 + PAD.l + ((x - xmin) / (xmax - xmin)) * pw;
  const py = (y: number) => y0 + PAD.t + (1 - (y - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [
    `<rect x="${x0}" y="${y0}" width="${W}" height="${H}" fill="white" stroke="#ddd"/>`,
    `<text x="${x0 + W / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-family="sans-serif">${c.title}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = ymin + ((ymax - ymin) * i) / 4;
    parts.push(`<line x1="${x0 + PAD.l}" x2="${x0 + W - PAD.r}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + PAD.l - 4}" y="${py(y) + 4}" text-anchor="end" font-size="10" font-family="sans-serif">${fmt(y)}</text>`);
  }
  parts.push(`<text x="${x0 + PAD.l}" y="${y0 + H - 8}" font-size="10" font-family="sans-serif">step ${xmin}</text>`);
  parts.push(`<text x="${x0 + W - PAD.r}" y="${y0 + H - 8}" text-anchor="end" font-size="10" font-family="sans-serif">step ${xmax}</text>`);
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const d = s.values
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    parts.push(`<text x="${x0 + PAD.l + 6 + i * 90}" y="${y0 + PAD.t + 12}" font-size="11" fill="${color}" font-family="sans-serif">${s.name}</text>`);
  });
  return parts.join('\n');
}

function charts(rows: MetricsRecord[]): Chart[] {
  const by = (name: string, f: (r: MetricsRecord) => number | undefined): Series => ({
    name,
    values: rows.flatMap((r) => {
      const v = f(r);
      return v === undefined ? [] : [[r.step, v] as [number, number]];
    }),
  });
  const termNames = [...new Set(rows.flatMap((r) => Object.keys(r.terms ?? {})))];
  const out: Chart[] = [
    { title: 'loss', series: [by('total', (r) => r.loss)] },
    { title: 'loss terms', series: termNames.map((t) => by(t, (r) => r.terms?.[t])) },
    { title: 'learning rate', series: [by('lr', (r) => r.lr)] },
    { title: 'weight decay', series: [by('wd', (r) => r.weight_decay)] },
    { title: 'teacher momentum', series: [by('m', (r) => r.momentum)] },
  ];
  if (rows.some((r) => r.teacher_temp !== undefined)) out.push({ title: 'teacher temperature', series: [by('τ_t', (r) => r.teacher_temp)] });
  out.push({ title: 'throughput (img/s)', series: [by('img/s', (r) => r.img_per_s)] });
  return out;
}

/** The whole report as one SVG document (2 charts per row). */
export function reportSvg(rows: MetricsRecord[], title: string): string {
  const cs = charts(rows);
  const cols = 2;
  const rowsN = Math.ceil(cs.length / cols);
  const width = cols * W + (cols + 1) * 10;
  const height = rowsN * H + (rowsN + 1) * 10 + 30;
  const body = cs.map((c, i) => chartSvg(c, 10 + (i % cols) * (W + 10), 40 + Math.floor(i / cols) * (H + 10))).join('\n');
  const esc = title.replace(/[<&>]/g, (ch) => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' })[ch] as string);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="#fafafa"/><text x="10" y="24" font-size="16" font-family="sans-serif">${esc}</text>\n${body}\n</svg>`;
}

/**
 * Writes the report for a run's metrics to `.html` or `.png`.
 *
 * @example
 * ```ts
 * await writeReport('runs/demo/metrics.jsonl', 'runs/demo/report.html');
 * ```
 */
export async function writeReport(metricsPath: string, outPath: string, title = metricsPath): Promise<{ steps: number; path: string }> {
  const rows = readMetrics(metricsPath);
  const last = rows[rows.length - 1] as MetricsRecord;
  const svg = reportSvg(rows, `${title} — ${rows.length} steps, last loss ${fmt(last.loss)}`);
  const ext = extname(outPath).toLowerCase();
  if (ext === '.png') {
    writeFileAtomic(outPath, await sharp(Buffer.from(svg)).png().toBuffer());
  } else if (ext === '.html' || ext === '.htm') {
    writeFileAtomic(outPath, new TextEncoder().encode(`<!doctype html><meta charset="utf-8"><title>selfpatch-train report</title><body style="margin:0">${svg}</body>\n`));
  } else if (ext === '.svg') {
    writeFileAtomic(outPath, new TextEncoder().encode(svg));
  } else {
    throw new ConfigError('--out', `report format from extension '${ext || '(none)'}': use .html, .svg or .png`);
  }
  return { steps: rows.length, path: outPath };
}
