/**
 * A run report: one self-contained HTML file (no external assets; thumbnails inline as data URIs,
 * curves as inline SVG, a CSP that forbids loading anything) with the config, dataset version,
 * backend, curves, metrics, confusion matrix, per-class table, baselines, diagnosis and the worst
 * errors; or, with a second run, the comparison on today's labels with its drift warning.
 */
import sharp from 'sharp';
import type { CurvePoint, RunDetail, SplitMetrics } from '../../shared/train';
import type { CheckedComparison, Diagnosis, RunBaselines } from '../../shared/experiments';
import type { ImageId } from '../../shared/types';
import type { Project } from '../store/project';
import { getBaselines, getGoal, imageFiles, predictionRows } from '../store/experiments';
import { argmax } from '../train/metrics';
import { getRunOf, runDetail } from '../train/runs';
import { realFileInside } from '../util/paths';
import { diagnose } from './diagnosis';
import { compareOnToday } from './rescore';

/** How many of the worst errors get a thumbnail. */
export const reportThumbnails = 12;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '–' : x.toFixed(d));

function metricsTable(run: RunDetail): string {
  const m = run.metrics;
  const rows: Array<[string, SplitMetrics | null | undefined]> = [
    ['train (in-sample)', m?.trainInSample],
    ['train (k-fold, out-of-sample)', m?.train],
    ['valid', m?.valid],
    ['test', m?.test],
  ];
  return `<table><tr><th>split</th><th>images</th><th>accuracy</th><th>macro-F1</th><th>log loss</th></tr>${rows
    .filter(([, s]) => s)
    .map(([name, s]) => `<tr><td>${esc(name)}</td><td>${s!.count}</td><td>${pct(s!.accuracy)}</td><td>${num(s!.macroF1, 3)}</td><td>${num(s!.logLoss)}</td></tr>`)
    .join('')}</table>`;
}

function confusionTable(classes: readonly string[], s: SplitMetrics): string {
  const max = Math.max(1, ...s.confusion.flat());
  const head = `<tr><th>given \\ predicted</th>${classes.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = s.confusion
    .map((row, g) => `<tr><th>${esc(classes[g])}</th>${row.map((n, p) => `<td style="background:rgba(${p === g ? '40,120,200' : '200,60,40'},${(n / max).toFixed(2)})">${n}</td>`).join('')}</tr>`)
    .join('');
  return `<table class="confusion">${head}${body}</table>`;
}

function perClassTable(s: SplitMetrics): string {
  return `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${s.perClass
    .map((c) => `<tr><td>${esc(c.name)}</td><td>${num(c.precision, 3)}</td><td>${num(c.recall, 3)}</td><td>${num(c.f1, 3)}</td><td>${c.support}</td></tr>`)
    .join('')}</table>`;
}

/** Epoch curves as inline SVG: train and valid loss per phase. */
export function curvesSvg(curves: readonly CurvePoint[]): string {
  const epochs = curves.filter((c) => c.kind === 'epoch');
  if (epochs.length === 0) return '<p>No epoch curves.</p>';
  const phases = [...new Set(epochs.map((c) => c.phase))];
  const width = 640;
  const height = 220;
  const values = epochs.flatMap((c) => [c.loss, c.valLoss ?? c.loss]).filter(Number.isFinite);
  const top = Math.max(...values);
  const bottom = Math.min(0, ...values);
  const maxStep = Math.max(...epochs.map((c) => c.step), 1);
  const x = (step: number) => 30 + ((width - 40) * step) / maxStep;
  const y = (v: number) => height - 20 - ((height - 30) * (v - bottom)) / (top - bottom || 1);
  const colours = ['#2878c8', '#c83c28', '#28a050', '#a050c8', '#c89628', '#28a0a0'];
  const lines = phases
    .map((phase, i) => {
      const points = epochs.filter((c) => c.phase === phase);
      const colour = colours[i % colours.length]!;
      const train = points.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
      const valid = points.filter((p) => p.valLoss !== null).map((p) => `${x(p.step).toFixed(1)},${y(p.valLoss!).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${train}"><title>${esc(phase)} train loss</title></polyline>${valid ? `<polyline fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="4 3" points="${valid}"><title>${esc(phase)} valid loss</title></polyline>` : ''}`;
    })
    .join('');
  const legend = phases.map((p, i) => `<span style="color:${colours[i % colours.length]}">■ ${esc(p)}</span>`).join(' ');
  return `<svg width="${width}" height="${height}" role="img" aria-label="loss curves"><line x1="30" y1="${height - 20}" x2="${width - 10}" y2="${height - 20}" stroke="#888"/><line x1="30" y1="10" x2="30" y2="${height - 20}" stroke="#888"/><text x="2" y="14" font-size="10">${top.toFixed(2)}</text><text x="2" y="${height - 22}" font-size="10">${bottom.toFixed(2)}</text><text x="${width - 60}" y="${height - 5}" font-size="10">epoch ${maxStep}</text>${lines}</svg><p class="legend">${legend} (solid: train loss, dashed: valid loss)</p>`;
}

function diagnosisSection(d: Diagnosis): string {
  const e = d.errors;
  return `<h2>Diagnosis</h2><p><strong>${esc(d.summary)}</strong></p>
<table><tr><th>goal</th><th>human</th><th>train (in-sample)</th><th>k-fold</th><th>valid</th><th>test</th></tr><tr><td>${pct(e.goal)}</td><td>${pct(e.human)}</td><td>${pct(e.train)}</td><td>${pct(e.trainKFold)}</td><td>${pct(e.valid)}</td><td>${pct(e.test)}</td></tr></table>
<p>Avoidable bias ${pct(d.gaps.avoidableBias)} · variance ${pct(d.gaps.variance)} · valid→test shift ${pct(d.gaps.shift)}</p>
<ol>${d.steps.map((s) => `<li><strong>${esc(s.title)}</strong> (${esc(s.category)}): ${esc(s.detail)}</li>`).join('')}</ol>
<p class="note">${esc(d.kFoldNote)}</p>${d.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}`;
}

function baselinesSection(b: RunBaselines | null): string {
  if (!b) return '<h2>Baselines</h2><p>Not computed for this run.</p>';
  const lift = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} points`);
  return `<h2>Baselines</h2><table><tr><th>baseline</th><th>valid</th><th>test</th><th>lift (valid)</th><th>lift (test)</th></tr>
<tr><td>majority class (${esc(b.majority.className)})</td><td>${pct(b.majority.valid?.accuracy)}</td><td>${pct(b.majority.test?.accuracy)}</td><td>${lift(b.lift.majority.valid)}</td><td>${lift(b.lift.majority.test)}</td></tr>
${b.linear ? `<tr><td>linear on ${b.linear.inputSize}x${b.linear.inputSize} grey pixels</td><td>${pct(b.linear.valid?.accuracy)}</td><td>${pct(b.linear.test?.accuracy)}</td><td>${lift(b.lift.linear.valid)}</td><td>${lift(b.lift.linear.test)}</td></tr>` : ''}</table>`;
}

/** Thumbnails (WebP data URIs) of the run's worst out-of-sample errors. */
async function worstErrors(project: Project, run: RunDetail): Promise<string> {
  const rows = predictionRows(project.db, run.id)
    .filter((r) => !r.inSample && r.given !== null && argmax(r.probabilities) !== r.given)
    .map((r) => ({ ...r, loss: -Math.log(Math.max(1e-7, r.probabilities[r.given!]!)) }))
    .sort((a, b) => b.loss - a.loss)
    .slice(0, reportThumbnails);
  if (rows.length === 0) return '<h2>Worst errors</h2><p>No errors.</p>';
  const files = imageFiles(project.db, rows.map((r) => r.imageId as ImageId));
  const root = project.root();
  const cells = await Promise.all(
    rows.map(async (r) => {
      const f = files.get(r.imageId);
      const file = f && root ? realFileInside(root, f.path) : null;
      let img = '<div class="missing">unreadable</div>';
      if (file) {
        try {
          const data = await sharp(file).resize(96, 96, { fit: 'inside' }).webp({ quality: 80 }).toBuffer();
          img = `<img alt="" src="data:image/webp;base64,${data.toString('base64')}">`;
        } catch {
          // an unreadable file keeps the placeholder
        }
      }
      const predicted = argmax(r.probabilities);
      return `<figure>${img}<figcaption>${esc(f?.path ?? r.imageId)}<br>given ${esc(run.classes[r.given!])}, predicted ${esc(run.classes[predicted])} (${pct(r.probabilities[predicted])})<br>${esc(r.split ?? '')} · loss ${r.loss.toFixed(2)}</figcaption></figure>`;
    }),
  );
  return `<h2>Worst errors</h2><div class="thumbs">${cells.join('')}</div>`;
}

function comparisonSection(c: CheckedComparison): string {
  const row = (label: string, a: SplitMetrics | null, b: SplitMetrics | null) => `<tr><td>${label}</td><td>${pct(a?.accuracy)}</td><td>${pct(b?.accuracy)}</td><td>${a && b ? `${((b.accuracy - a.accuracy) * 100).toFixed(1)} points` : '–'}</td></tr>`;
  return `<h2>Comparison: run ${c.a} vs run ${c.b} (on today's labels)</h2>${c.warning ? `<p class="warning">${esc(c.warning)}</p>` : ''}
<table><tr><th>split</th><th>run ${c.a}</th><th>run ${c.b}</th><th>b − a</th></tr>${row('valid', c.rescored.a.today.valid, c.rescored.b.today.valid)}${row('test', c.rescored.a.today.test, c.rescored.b.today.test)}</table>
<p>Changed predictions: ${c.counts.fixed} fixed, ${c.counts.broken} broken, ${c.counts.other} other.</p>
<table><tr><th>image</th><th>given</th><th>run ${c.a}</th><th>run ${c.b}</th><th>change</th><th>Δ confidence</th></tr>${c.rows
    .slice(0, 50)
    .map((r) => `<tr><td>${esc(r.path)}</td><td>${esc(r.given ?? '')}</td><td>${esc(r.a)}</td><td>${esc(r.b)}</td><td>${r.change}</td><td>${r.confidenceChange.toFixed(3)}</td></tr>`)
    .join('')}</table>`;
}

/** The report of a run (and of its comparison with `compareTo`), as one HTML document. */
export async function buildReport(project: Project, runId: number, compareTo?: number): Promise<string> {
  const { db } = project;
  getRunOf(db, runId, 'classification', 'run reports');
  const run = runDetail(db, runId);
  const split = run.metrics?.valid ?? run.metrics?.test ?? run.metrics?.train ?? null;
  const diagnosis = diagnose({ runId, config: run.config, metrics: run.metrics, goal: getGoal(db) });
  const config = Object.entries(run.config)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v))}</td></tr>`)
    .join('');
  const backend = run.backend ? `${run.backend.name} (${run.backend.device.label})` : 'none recorded';
  const parts = [
    `<h1>Loupe run ${run.id} (${esc(run.config.mode)})</h1>`,
    `<p>Status ${esc(run.status)} · dataset version ${run.datasetVersion} · backend ${esc(backend)} · backbone ${esc(run.backbone?.name ?? '–')} · started ${esc(new Date(run.startedAt).toISOString())}${run.timings ? ` · ${run.timings.totalSeconds.toFixed(1)} s` : ''}</p>`,
    '<h2>Config</h2>',
    `<table>${config}</table>`,
    '<h2>Metrics</h2>',
    metricsTable(run),
    baselinesSection(getBaselines(db, runId)),
    diagnosisSection(diagnosis),
    '<h2>Curves</h2>',
    curvesSvg(run.curves),
  ];
  if (split) parts.push(`<h2>Confusion matrix (${run.metrics?.valid ? 'valid' : run.metrics?.test ? 'test' : 'train, k-fold'})</h2>`, confusionTable(run.classes, split), '<h2>Per class</h2>', perClassTable(split));
  parts.push(await worstErrors(project, run));
  if (compareTo !== undefined) parts.push(comparisonSection(compareOnToday(db, compareTo, runId, { filter: 'all', sort: 'confidenceChange', offset: 0, limit: 50 })));
  const style = `body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.confusion td{min-width:2em}.thumbs{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;width:150px;font-size:11px}.note{color:#666}.warning{background:#fff3cd;padding:.5em;border:1px solid #e0c060}.legend{font-size:12px}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"><title>Loupe run ${run.id}</title><style>${style}</style></head><body>${parts.join('\n')}</body></html>`;
}
