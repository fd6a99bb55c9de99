/**
 * The release packaging step (scripts/package.mjs): its fuse configuration, that packager's
 * afterCopy hook flips exactly that configuration on the staged Electron binary, and what goes
 * into the package. The real Electron binary cannot be downloaded here, so the hook runs the real
 * @electron/fuses on a file laid out like one (sentinel, wire version, wire length, fuses).
 */
import fuses, { type FuseConfig } from '@electron/fuses';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuseHook, releaseFuses, stagedElectronPath } from '../../../scripts/fuses.mjs';
import { isIgnored, packagerOptions } from '../../../scripts/package.mjs';
import { tempDir } from '../../helpers/fixtures';

const { FuseV1Options, FuseVersion, getCurrentFuseWire } = fuses;
const sentinel = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const [disabled, enabled] = [0x30, 0x31];

type Hook = ReturnType<typeof fuseHook>;
const runHook = (hook: Hook, buildPath: string, platform: string, arch: string) =>
  new Promise<void>((resolve, reject) => hook(buildPath, '40.0.0', platform, arch, (error) => (error ? reject(error) : resolve())));

describe('release packaging', () => {
  it('turns off RunAsNode, NODE_OPTIONS and --inspect, and turns on cookie encryption, ASAR integrity and ASAR-only loading', () => {
    expect(releaseFuses.version).toBe(FuseVersion.V1);
    expect(releaseFuses[FuseV1Options.RunAsNode]).toBe(false);
    expect(releaseFuses[FuseV1Options.EnableCookieEncryption]).toBe(true);
    expect(releaseFuses[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(false);
    expect(releaseFuses[FuseV1Options.EnableNodeCliInspectArguments]).toBe(false);
    expect(releaseFuses[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(true);
    expect(releaseFuses[FuseV1Options.OnlyLoadAppFromAsar]).toBe(true);
  });

  it('packages the app as ASAR and flips the release fuses after copying it, on every platform', async () => {
    const options = packagerOptions({ platform: 'linux', arch: 'x64' });
    expect(options.asar).toBeTruthy();
    expect(options.afterCopy).toHaveLength(1);
    const staged = path.join('/stage', 'resources', 'app');
    const macStaged = path.join('/stage', 'Electron.app', 'Contents', 'Resources', 'app');
    const cases = [
      { buildPath: staged, platform: 'linux', arch: 'x64', binary: path.join('/stage', 'electron'), resign: false },
      { buildPath: staged, platform: 'win32', arch: 'x64', binary: path.join('/stage', 'electron.exe'), resign: false },
      { buildPath: macStaged, platform: 'darwin', arch: 'arm64', binary: path.join('/stage', 'Electron.app'), resign: true },
    ];
    for (const c of cases) {
      const flipped: Array<{ binary: string; config: FuseConfig }> = [];
      // The hook packager runs is the one under test; only flipFuses is replaced, to record its call.
      const hook = fuseHook(async (binary, config) => flipped.push({ binary, config }));
      await runHook(hook, c.buildPath, c.platform, c.arch);
      expect(stagedElectronPath(c.buildPath, c.platform)).toBe(c.binary);
      expect(flipped).toEqual([{ binary: c.binary, config: { ...releaseFuses, resetAdHocDarwinSignature: c.resign } }]);
    }
  });

  it('the hook in the packager options flips the fuses of a staged binary for real', async () => {
    const stage = tempDir('loupe-package-');
    const binary = path.join(stage, 'electron');
    const wire = Buffer.alloc(8, enabled); // Electron's defaults differ; start all enabled to see each flip.
    fs.writeFileSync(binary, Buffer.concat([Buffer.from('\0\0ELF'), Buffer.from(sentinel), Buffer.from([1, wire.length]), wire, Buffer.from('\0')]));
    fs.mkdirSync(path.join(stage, 'resources', 'app'), { recursive: true });
    const [hook] = packagerOptions({ platform: 'linux', arch: 'x64' }).afterCopy as Hook[];
    await runHook(hook!, path.join(stage, 'resources', 'app'), 'linux', 'x64');
    const current = await getCurrentFuseWire(binary);
    expect(current[FuseV1Options.RunAsNode]).toBe(disabled);
    expect(current[FuseV1Options.EnableCookieEncryption]).toBe(enabled);
    expect(current[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(disabled);
    expect(current[FuseV1Options.EnableNodeCliInspectArguments]).toBe(disabled);
    expect(current[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(enabled);
    expect(current[FuseV1Options.OnlyLoadAppFromAsar]).toBe(enabled);
  });

  it('the hook fails packaging when the binary has no fuse wire', async () => {
    const stage = tempDir('loupe-package-');
    fs.writeFileSync(path.join(stage, 'electron'), 'not electron');
    await expect(runHook(fuseHook(), path.join(stage, 'resources', 'app'), 'linux', 'x64')).rejects.toThrow(/sentinel/);
  });

  it('ships only the built app, package.json and production node_modules', () => {
    for (const kept of ['', '/package.json', '/out', '/out/main/index.js', '/node_modules', '/node_modules/sharp/package.json']) {
      expect(isIgnored(kept), kept).toBe(false);
    }
    for (const dropped of ['/src', '/src/main/core.ts', '/tests', '/scripts', '/.git', '/release', '/outside', '/e.loupe', '/.env']) {
      expect(isIgnored(dropped), dropped).toBe(true);
    }
  });
});
