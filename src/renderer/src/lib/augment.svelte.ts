/**
 * The Augment view's state: the config being edited, the preview mode, seeds and the latest
 * preview. Edits refresh the preview after a short pause; an older answer never replaces a newer one.
 */
import type { LoupeApi } from '../../../shared/contract';
import {
  defaultTransforms,
  matchPreset,
  presetConfig,
  transformKinds,
  type AugmentConfig,
  type AugmentPresetName,
  type AugmentPreview,
  type AugmentTransform,
  type PreviewMode,
  type TransformKind,
} from '../../../shared/augment';
import type { ImageId } from '../../../shared/types';

const debounceMs = 200;

/** Holds the config under edit and keeps its preview current. */
export class AugmentState {
  config = $state<AugmentConfig>(presetConfig('standard'));
  mode = $state<PreviewMode>('many-images');
  seed = $state(1);
  preview = $state.raw<AugmentPreview | null>(null);
  isLoading = $state(false);
  error = $state<string | null>(null);
  /** The preset the transforms equal, or 'custom'. */
  readonly preset = $derived<AugmentPresetName | 'custom'>(matchPreset(this.config.transforms) ?? 'custom');

  private imageIds: ImageId[] | null = null;
  private sampleSeed = 1;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private request = 0;

  constructor(private readonly api: LoupeApi) {}

  /** The transform of a kind when it is on. */
  transform(kind: TransformKind): AugmentTransform | undefined {
    return this.config.transforms.find((t) => t.kind === kind);
  }

  setPreset(name: AugmentPresetName): void {
    const { inputSize, resize, normalize, padColor } = this.config;
    this.config = presetConfig(name, { inputSize, resize, normalize, padColor });
    this.schedule();
  }

  /** Switches a transform on (with default values) or off. */
  setEnabled(kind: TransformKind, isOn: boolean): void {
    const others = this.config.transforms.filter((t) => t.kind !== kind);
    const next = isOn ? [...others, structuredClone(defaultTransforms[kind]) as AugmentTransform] : others;
    this.config.transforms = next.sort((a, b) => transformKinds.indexOf(a.kind) - transformKinds.indexOf(b.kind));
    this.schedule();
  }

  /** Changes one value of a transform in place. */
  update(kind: TransformKind, change: (t: AugmentTransform) => void): void {
    const t = this.transform(kind);
    if (!t) return;
    change(t);
    this.schedule();
  }

  /** Changes the config's size, resize mode or normalisation. */
  setBase(change: Partial<Pick<AugmentConfig, 'inputSize' | 'resize' | 'normalize'>>): void {
    Object.assign(this.config, change);
    this.schedule();
  }

  setMode(mode: PreviewMode): void {
    this.mode = mode;
    this.imageIds = mode === 'one-image' && this.imageIds ? this.imageIds.slice(0, 1) : null;
    void this.refresh();
  }

  /** New random augmentations of the same images. */
  reroll(): void {
    this.seed += 1;
    void this.refresh();
  }

  /** Other images, same augmentation seed. */
  newImages(): void {
    this.imageIds = null;
    this.sampleSeed += 1;
    void this.refresh();
  }

  /** Refreshes after the user pauses. */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, debounceMs);
  }

  /** Asks for a new preview now. */
  async refresh(): Promise<void> {
    const request = ++this.request;
    this.isLoading = true;
    try {
      const preview = await this.api.call('augment:preview', {
        config: $state.snapshot(this.config) as AugmentConfig,
        mode: this.mode,
        seed: this.seed,
        count: 12,
        sampleSeed: this.sampleSeed,
        ...(this.imageIds ? { imageIds: this.imageIds } : {}),
      });
      if (request !== this.request) return;
      this.preview = preview;
      this.error = null;
      // Keep showing the same images while the config changes, so only the change is seen.
      this.imageIds ??= preview.items.map((item) => item.imageId).filter((imageId, i, all) => all.indexOf(imageId) === i);
    } catch (error) {
      if (request === this.request) this.error = error instanceof Error ? error.message : String(error);
    } finally {
      if (request === this.request) this.isLoading = false;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.request++;
  }
}
