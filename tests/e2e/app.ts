/**
 * e2e fixtures: a serve-mode Loupe on its own project, and Chromium pointed at it. Tests wait for
 * app state (data attributes, element text), never for time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';

const repo = path.resolve(import.meta.dirname, '../..');

/** Where Debian puts Chromium; LOUPE_CHROMIUM overrides. */
export const chromiumPath = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';

/** A running `loupe serve` with its own temporary folder. */
export interface ServedApp {
  url: string;
  token: string;
  origin: string;
  dir: string;
  projectFile: string;
  stop(): Promise<void>;
}

/** Starts `loupe serve` on a new project in a new temporary folder. */
export async function serve(options: { project?: boolean } = {}): Promise<ServedApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-'));
  const projectFile = path.join(dir, 'e2e.loupe');
  const args = [path.join(repo, 'bin/loupe.mjs'), 'serve', '--json'];
  if (options.project !== false) args.push('--project', projectFile);
  const child: ChildProcess = spawn(process.execPath, args, { cwd: repo, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        /* not the address line */
      }
    });
    child.once('exit', (code) => reject(new Error(`loupe serve exited with ${code}: ${stderr}`)));
  });
  const parsed = new URL(url);
  return {
    url,
    token: parsed.searchParams.get('token')!,
    origin: parsed.origin,
    dir,
    projectFile,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium with the flags this machine needs. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** Opens the app and waits until it has connected and asked for the current project. */
export async function openApp(browser: Browser, app: ServedApp): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(app.url);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}
