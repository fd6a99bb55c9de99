/** Hands the app state to components without threading it through every prop. */
import { getContext, setContext } from 'svelte';
import type { AppState } from './app.svelte.js';

const key = Symbol('loupe.app');

/** Called once by the root component. */
export function provideApp(app: AppState): void {
  setContext(key, app);
}

/** The app state, from any component under the root. */
export function useApp(): AppState {
  const app = getContext<AppState | undefined>(key);
  if (!app) throw new Error('useApp() called outside the app');
  return app;
}
