/**
 * The WebGPU adapter the GPU tests run on: dawn.node's, with the SwiftShader software driver
 * allowed (Chromium's, as CI installs it). Tests that need it skip, with the reason in their name,
 * where it is absent.
 */
import { findAdapter, type FoundAdapter } from '../../../src/main/model/webgpu';

/** The adapter, or why there is none. */
export async function testAdapter(): Promise<{ found: FoundAdapter; skip: null } | { found: null; skip: string }> {
  try {
    return { found: await findAdapter({ software: true }), skip: null };
  } catch (error) {
    return { found: null, skip: error instanceof Error ? error.message : String(error) };
  }
}
