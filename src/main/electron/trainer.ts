/**
 * The training process in the app: Electron's utilityProcess. With the RunAsNode fuse off (release
 * builds), child_process.fork of the Electron binary no longer starts a Node; a utility process is
 * Electron's own way to run Node code in a child, and its messages use structured clone as fork's
 * 'advanced' serialization does.
 */
import { utilityProcess } from 'electron';
import type { TrainerSpawner } from '../train/client';
import type { FromProcess } from '../train/protocol';

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
