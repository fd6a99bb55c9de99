/**
 * The training process in the app: Electron's utilityProcess. With the RunAsNode fuse off (release
 * builds), child_process.fork of the Electron binary no longer starts a Node; a utility process is
 * Electron's own way to run Node code in a child, and its messages use structured clone as fork's
 * 'advanced' serialization does. A full run that asks for WebGPU goes to the GPU window instead
 * (gpuHost.ts), through routedTrainer.
 */
import { utilityProcess } from 'electron';
import type { TrainerHandle, TrainerSpawner } from '../train/client';
import type { FromProcess, ToProcess } from '../train/protocol';

export const utilityTrainer: TrainerSpawner = ({ file, execArgv }) => {
  const child = utilityProcess.fork(file, [], { execArgv, stdio: 'inherit', serviceName: 'Loupe training' });
  let running = true;
  child.once('exit', () => (running = false));
  // A fatal error in the child (out of memory) is followed by 'exit', which fails its requests; unheard, it would end the app.
  child.on('error', () => {});
  return {
    get pid() {
      return child.pid;
    },
    alive: () => running,
    send: (message) => {
      if (running) child.postMessage(message);
    },
    onMessage: (listener) => child.on('message', (message: unknown) => listener(message as FromProcess)),
    onExit: (listener) => child.once('exit', (code) => listener(`exit code ${code}`)),
    // The app's main process stays alive with its window; nothing to hold.
    hold: () => {},
    kill: () => {
      child.kill();
    },
  };
};

/** Whether a request trains on the GPU window: a full run that asks for WebGPU (dawn.node cannot load in the app's processes). */
export function trainsOnWindow(message: ToProcess): boolean {
  if (message.type !== 'run' || message.kind !== 'full') return false;
  const config = (message.input as { config?: { backend?: unknown } } | null)?.config;
  return config?.backend === 'webgpu';
}

/**
 * The app's training: the utility process for everything, except the requests `route` picks,
 * which go to a second host (the GPU window), started on first use and again after it ends. When
 * that host ends, only its own requests fail, with its reason; the utility process carries on.
 */
export function routedTrainer(primary: TrainerSpawner, secondary: TrainerSpawner, route: (message: ToProcess) => boolean = trainsOnWindow): TrainerSpawner {
  return (entry) => {
    const main = primary(entry);
    const listeners: Array<(message: FromProcess) => void> = [];
    const deliver = (message: FromProcess) => {
      for (const listener of listeners) listener(message);
    };
    main.onMessage(deliver);
    let side: TrainerHandle | null = null;
    const onSide = new Set<number>();
    const sideHost = (): TrainerHandle => {
      if (side?.alive()) return side;
      const started = secondary(entry);
      started.onMessage((message) => {
        if (message.type === 'done' || message.type === 'error') onSide.delete(message.id);
        deliver(message);
      });
      started.onExit((why) => {
        if (side === started) side = null;
        for (const id of [...onSide]) {
          deliver({ type: 'error', id, error: { code: 'INTERNAL', message: `GPU training stopped: ${why}. The app is fine; try again, or train with backend "auto".` } });
        }
        onSide.clear();
      });
      side = started;
      return started;
    };
    main.onExit(() => side?.kill());
    return {
      get pid() {
        return main.pid;
      },
      alive: () => main.alive(),
      send: (message) => {
        if (message.type === 'cancel') {
          if (onSide.has(message.id)) side?.send(message);
          else main.send(message);
          return;
        }
        if (route(message)) {
          onSide.add(message.id);
          sideHost().send(message);
          return;
        }
        main.send(message);
      },
      onMessage: (listener) => listeners.push(listener),
      onExit: (listener) => main.onExit(listener),
      hold: (busy) => main.hold(busy),
      kill: () => {
        side?.kill();
        main.kill();
      },
    };
  };
}
