/**
 * Who owns a running import or training run. The process that starts one records a lease (a random
 * per-process id, its pid and host, a heartbeat renewed while it has work running), and stamps the
 * job's row with that id. Opening the project elsewhere then recovers only jobs whose owner is gone,
 * never guessing from the status column alone.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { write, type Db } from './db';
import { sql } from './statements';

/** This process. The id is random so that a reused pid is never mistaken for it. */
const self = { id: randomUUID(), pid: process.pid, host: hostKey() };

/**
 * The machine and pid namespace this process's pids mean something in: a sandboxed app (Flatpak, a
 * container) shares the hostname but not the pids, so a pid missing here says nothing about it.
 */
function hostKey(): string {
  let namespace = '';
  try {
    namespace = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    // No /proc (macOS, Windows): the hostname alone.
  }
  return namespace ? `${os.hostname()} ${namespace}` : os.hostname();
}

/** How often a process with running work renews its lease. */
export const heartbeatMs = 5000;
/** A lease not renewed for this long is dead, even when its pid runs (reused, or another pid namespace). */
export const staleMs = 60_000;

const heartbeats = new Map<Db, ReturnType<typeof setInterval>>();

/** Records this process as the owner of a job about to start in `db` and returns the id to stamp on its row. */
export function claimOwner(db: Db): string {
  renew(db);
  if (!heartbeats.has(db)) {
    const timer = setInterval(() => beat(db), heartbeatMs);
    timer.unref();
    heartbeats.set(db, timer);
  }
  return self.id;
}

/** Stops renewing this process's lease in `db` (the project is closing). */
export function stopHeartbeat(db: Db): void {
  const timer = heartbeats.get(db);
  if (timer) clearInterval(timer);
  heartbeats.delete(db);
}

/**
 * The ids of owners still alive, read inside the caller's write transaction so that no owner can
 * register between this read and the recovery that uses it. An owner is dead when its heartbeat is
 * older than `staleMs`, or when it ran on this host and its pid no longer exists.
 */
export function liveOwners(db: Db, now = Date.now()): string[] {
  const rows = sql(db, 'SELECT id, pid, host, heartbeat_at AS heartbeatAt FROM owners').all() as {
    id: string;
    pid: number;
    host: string;
    heartbeatAt: number;
  }[];
  const live = rows.filter((o) => now - o.heartbeatAt < staleMs && (o.host !== self.host || isRunning(o.pid)));
  const ids = new Set(live.map((o) => o.id));
  for (const o of rows) if (!ids.has(o.id)) sql(db, 'DELETE FROM owners WHERE id = ?').run(o.id);
  return [...ids];
}

function renew(db: Db): void {
  write(db, () =>
    sql(db, 'INSERT INTO owners (id, pid, host, heartbeat_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at').run(
      self.id,
      self.pid,
      self.host,
      Date.now(),
    ),
  );
}

function beat(db: Db): void {
  if (!db.open) return stopHeartbeat(db);
  let owns: { owns: number };
  try {
    owns = sql(
      db,
      `SELECT EXISTS (SELECT 1 FROM imports WHERE owner = ? AND status = 'running')
           OR EXISTS (SELECT 1 FROM runs WHERE owner = ? AND status = 'running') AS owns`,
    ).get(self.id, self.id) as { owns: number };
  } catch {
    // The file is unreadable for now (a drive gone, a newer Loupe migrating it): try again next beat.
    return;
  }
  if (!owns.owns) return stopHeartbeat(db);
  // A heartbeat never blocks the event loop waiting for another writer: a missed one is retried next time.
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    renew(db);
  } catch {
    // Busy: the next beat renews it, long before the lease goes stale.
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
