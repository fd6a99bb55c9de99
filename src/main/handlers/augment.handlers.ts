import { augmentPresetNames, presetConfig } from '../../shared/augment';
import type { ImageId } from '../../shared/types';
import { renderPreview, type PreviewCache } from '../augment/preview';
import { previewPicksById, samplePreviewPicks } from '../augment/sources';
import type { AreaHandlers, CoreServices } from './types';

/** augment:presets, augment:preview. Preview PNGs go into `previews`; the image routes serve them. */
export function augmentHandlers(core: CoreServices & { readonly previews: PreviewCache }): AreaHandlers<'augment'> {
  return {
    'augment:presets': () => augmentPresetNames.map((name) => ({ name, config: presetConfig(name) })),
    'augment:preview': async ({ config, imageIds, count, seed, sampleSeed, mode }) => {
      const started = performance.now();
      const project = core.requireProject();
      const wanted = mode === 'one-image' ? 1 : count;
      const picks = imageIds ? previewPicksById(project, imageIds) : samplePreviewPicks(project, wanted, sampleSeed ?? seed);
      const rendered = await renderPreview(picks, config, { count, seed, mode, pixelLimit: core.options.pixelLimit });
      const previewId = core.previews.add(rendered.map((item) => item.png));
      const byId = new Map(picks.map((pick) => [pick.id, pick]));
      return {
        previewId,
        width: config.inputSize.width,
        height: config.inputSize.height,
        seed,
        elapsedMs: Math.round(performance.now() - started),
        items: rendered.map((item) => ({
          index: item.index,
          imageId: item.sourceId as ImageId,
          path: byId.get(item.sourceId)!.path,
          label: byId.get(item.sourceId)!.label,
          error: item.error,
        })),
      };
    },
  };
}
