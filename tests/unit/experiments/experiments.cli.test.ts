/** `loupe goal`, `search`, `ensemble`, `diagnose` and `report` in child processes, as a person runs them. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from '../cli/run';
import { writePlantedDataset } from '../train/plantedDataset';

describe('experiments on the command line', () => {
  it('sets a goal, searches, ensembles the best trials, diagnoses and writes a report', async () => {
    process.env.LOUPE_OFFLINE = '1';
    const dir = tempDir();
    const project = path.join(dir, 'p.loupe');
    await writePlantedDataset(path.join(dir, 'data'), 10, 0, 16);
    const core = new Core();
    await core.call('project:open', { file: project, create: true });
    expect((await core.jobs.finished((await core.call('dataset:import', { source: path.join(dir, 'data') })).jobId)).state).toBe('done');
    await core.shutdown();

    const goal = await loupe(['goal', '--project', project, '--error', '5%', '--json']);
    expect(goal.code, goal.stderr).toBe(0);
    expect(JSON.parse(goal.stdout).goal).toMatchObject({ metric: 'error', targetError: 0.05, humanError: null });
    expectOneErrorLine(await loupe(['goal', '--project', project, '--error', '5', '--json']), /fraction/);

    const search = await loupe(['search', '--project', project, '--budget-trials', '3', '--min-budget', '1', '--max-budget', '2', '--eta', '2', '--json']);
    expect(search.code, search.stderr).toBe(0);
    const s = JSON.parse(search.stdout) as { status: string; trials: Array<{ status: string; rungs: Array<{ runId: number }> }>; best: { runId: number; config: { epochs: number } } };
    expect(s.status).toBe('done');
    expect(s.trials).toHaveLength(3);
    expect(s.best.config.epochs).toBe(2);
    const runIds = s.trials.map((t) => t.rungs.at(-1)!.runId);

    const ensemble = await loupe(['ensemble', '--project', project, '--runs', runIds.slice(0, 2).join(','), '--json']);
    expect(ensemble.code, ensemble.stderr).toBe(0);
    const e = JSON.parse(ensemble.stdout) as { runId: number; members: Array<{ runId: number }>; metrics: { valid: { accuracy: number } } };
    expect(e.members.map((m) => m.runId)).toEqual(runIds.slice(0, 2));
    expectOneErrorLine(await loupe(['ensemble', '--project', project, '--json']), /--runs/);

    const diagnose = await loupe(['diagnose', '--project', project, '--run', String(e.runId), '--json']);
    expect(diagnose.code, diagnose.stderr).toBe(0);
    const d = JSON.parse(diagnose.stdout) as { runId: number; verdict: string; errors: { goal: number } };
    expect(d.runId).toBe(e.runId);
    expect(d.errors.goal).toBe(0.05);
    const text = await loupe(['diagnose', '--project', project]);
    expect(text.stdout).toMatch(/avoidable bias/);

    const out = path.join(dir, 'report.html');
    const report = await loupe(['report', '--project', project, '--run', String(runIds[0]), '--out', out, '--json']);
    expect(report.code, report.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toContain(`Loupe run ${runIds[0]}`);
    expect((await loupe(['search', '--help'])).stdout).toContain('--budget-trials');
  }, 300_000);
});
