/**
 * The GPU training page's preload: hands the page the MessagePort the main process sends, by
 * posting it to the page's window with the port transferred (the page's world cannot see
 * ipcRenderer). Nothing else crosses.
 */
import { ipcRenderer } from 'electron';
import { trainerPortChannel, trainerPortMessage } from '../main/train/windowProtocol';

ipcRenderer.once(trainerPortChannel, (event) => {
  window.postMessage(trainerPortMessage, '*', event.ports);
});
