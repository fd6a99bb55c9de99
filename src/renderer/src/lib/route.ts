/**
 * The current view and its parameters in `location.hash` (`#/gallery?class=cat&sort=random&seed=4`),
 * so that a view can be returned to. The query string (`?token=` in serve mode) is never touched.
 */

/** A parsed hash: the view name and its parameters. */
export interface Route {
  view: string;
  params: URLSearchParams;
}

/** Reads `#/view?a=b` from the current location. */
export function readRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [view = '', query = ''] = hash.split('?', 2);
  return { view, params: new URLSearchParams(query) };
}

/** Writes the view (and its parameters) into the hash without adding a history entry per change. */
export function writeRoute(view: string, params?: URLSearchParams): void {
  const query = params?.toString() ?? '';
  const hash = `#/${view}${query ? `?${query}` : ''}`;
  if (location.hash === hash) return;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}

/** Points the hash at a view, keeping its parameters when the hash already names that view. */
export function syncViewRoute(view: string): void {
  if (readRoute().view === view) return;
  writeRoute(view);
}

/** Views a hash may name on load; others' views join this list as they are added. */
export const routedViews = ['overview', 'gallery', 'augment', 'classes', 'splits', 'versions', 'train', 'runs', 'review', 'health', 'experiments'] as const;

/** The view the hash names on load, when it is one the app knows. */
export function initialView(): (typeof routedViews)[number] | null {
  const { view } = readRoute();
  return (routedViews as readonly string[]).includes(view) ? (view as (typeof routedViews)[number]) : null;
}
