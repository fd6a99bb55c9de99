/**
 * The Gallery at 100,000 images, in Chromium against serve mode: jump the virtual grid to random
 * places (as dragging the scrollbar does) and to the next screen (as the wheel does), and time how
 * long placeholder cells stay on screen before the page of images lands. Prints p50/p95 and the
 * worst, in milliseconds, and how many cells the grid keeps in the DOM.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { storeFixture } from './store.bench';

const repo = path.resolve(import.meta.dirname, '..');

function summary(name: string, times: number[]): void {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  console.log(`${name.padEnd(40)} p50 ${at(0.5).toFixed(0).padStart(4)} ms   p95 ${at(0.95).toFixed(0).padStart(4)} ms   worst ${at(1).toFixed(0).padStart(4)} ms`);
}

/** Prints how long placeholders show after scroll jumps in a 100,000-image gallery. */
export async function galleryBench(): Promise<void> {
  const file = await storeFixture();
  const server = spawn(process.execPath, [path.join(repo, 'bin/loupe.mjs'), 'serve', '--project', file, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) =>
    readline.createInterface({ input: server.stdout! }).on('line', (line) => {
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        /* not the address line */
      }
    }),
  );
  const browser = await chromium.launch({
    executablePath: process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${url}#/gallery`);
    await page.waitForSelector('[data-testid="gallery-cell"]');
    const total = Number(await page.getByTestId('gallery-count').getAttribute('data-total'));
    // Scrolls, then polls each animation frame until no placeholder is left: the time a person sees grey.
    // Written as source text: tsx's name helpers do not exist inside the page.
    const jump = (to: 'random' | 'next', seed: number) =>
      page.evaluate(`new Promise((resolve) => {
        const el = document.querySelector('[data-testid="gallery-grid"]');
        const target = ${to === 'random'} ? (((${seed} * 7919) % 1000) / 1000) * (el.scrollHeight - el.clientHeight) : el.scrollTop + el.clientHeight;
        const start = performance.now();
        el.scrollTo(0, target);
        const check = () => {
          if (el.querySelector('.placeholder') === null && el.querySelector('[data-testid="gallery-cell"]')) resolve(performance.now() - start);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      })`) as Promise<number>;
    const random: number[] = [];
    for (let i = 1; i <= 30; i++) random.push(await jump('random', i));
    const next: number[] = [];
    for (let i = 1; i <= 30; i++) next.push(await jump('next', i));
    const cells = await page.getByTestId('gallery-cell').count();
    console.log(`${total} images in the gallery; ${cells} cells in the DOM`);
    summary('placeholders after a jump anywhere', random);
    summary('placeholders after a screen down', next);
  } finally {
    await browser.close();
    server.kill();
  }
}
