/** The gallery's keyboard shortcuts: one list for the handler's documentation and the help overlay. */

/** One row of the help overlay. */
export interface Shortcut {
  keys: string;
  action: string;
}

/** Every shortcut, grouped in the order the help overlay shows them. */
export const shortcutGroups: { title: string; rows: Shortcut[] }[] = [
  {
    title: 'Move',
    rows: [
      { keys: '← → ↑ ↓', action: 'Move the focused cell (in the large view: previous / next image)' },
      { keys: 'Shift + arrows', action: 'Extend the selection' },
      { keys: 'Space', action: 'Open / close the large view' },
      { keys: 'Esc', action: 'Close the large view, then clear the selection' },
    ],
  },
  {
    title: 'Select',
    rows: [
      { keys: 'Click', action: 'Focus one image (and select only it)' },
      { keys: 'Ctrl/⌘ + click', action: 'Add or take one image from the selection' },
      { keys: 'Shift + click', action: 'Select a range' },
      { keys: 'Ctrl/⌘ + A', action: 'Select every image matching the filter' },
    ],
  },
  {
    title: 'Fix',
    rows: [
      { keys: '1 – 9', action: 'Relabel as the first nine classes' },
      { keys: 'L', action: 'Relabel: pick or type any class (a new name creates it)' },
      { keys: 'Enter (Value field)', action: 'Set the value typed in the large view (Esc puts it back)' },
      { keys: 'Delete / Backspace', action: 'Remove from the dataset (kept, restorable)' },
      { keys: 'U', action: 'Restore removed images' },
      { keys: 'R', action: 'Mark reviewed (Shift + R: not reviewed)' },
      { keys: 'Ctrl/⌘ + Z', action: 'Undo' },
      { keys: 'Ctrl/⌘ + Shift + Z', action: 'Redo' },
      { keys: '+ / − / 0', action: 'Zoom in / out / fit in the large view' },
      { keys: '?', action: 'Show this help' },
    ],
  },
];

/** The Health view's duplicate-group queue: one key per decision, each one undoable change. */
export const duplicateQueueShortcuts: { title: string; rows: Shortcut[] }[] = [
  {
    title: 'Duplicate groups',
    rows: [
      { keys: '↑ ↓ (J)', action: 'Previous / next group' },
      { keys: '← →', action: 'Pick the member to keep' },
      { keys: 'K', action: 'Keep all: not duplicates (the group is no longer reported)' },
      { keys: 'R', action: 'Keep the picked member, remove the others (kept, restorable)' },
      { keys: 'M', action: 'Move the whole group into one split' },
      { keys: 'Z / Ctrl/⌘ + Z', action: 'Undo the last decision' },
      { keys: 'Esc', action: 'Back to the list of checks' },
      { keys: '?', action: 'Show this help' },
    ],
  },
];

/** The regression review queues (Review on a regression project): one key per decision, each one undoable change. */
export const valueQueueShortcuts: { title: string; rows: Shortcut[] }[] = [
  {
    title: 'Value queues',
    rows: [
      { keys: '↑ ↓ (J)', action: 'Previous / next image' },
      { keys: '0 – 9, −, .', action: 'Start typing the value it should have (Enter sets it, Esc leaves the field)' },
      { keys: 'Enter / E', action: 'Edit the value of the focused image' },
      { keys: 'K', action: 'Keep: the value is right (marked reviewed)' },
      { keys: 'X / Delete', action: 'Remove from the dataset (kept, restorable)' },
      { keys: 'Ctrl/⌘ + Z', action: 'Undo the last edit' },
      { keys: '?', action: 'Show this help' },
    ],
  },
];

/** True when a key event comes from a field that takes text, where shortcuts must not fire. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  const type = (target as HTMLInputElement).type;
  return type !== 'checkbox' && type !== 'radio' && type !== 'button';
}

/** Ctrl on Linux and Windows, Cmd on macOS. */
export function hasCommandKey(event: KeyboardEvent | MouseEvent): boolean {
  return event.ctrlKey || event.metaKey;
}
