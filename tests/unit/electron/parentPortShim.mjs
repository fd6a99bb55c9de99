// Preloaded into a forked Node child: the `process.parentPort` an Electron utility process has,
// carried over the fork's IPC channel in an envelope, so code that used process.send or
// process.on('message') directly would not be understood and the test would fail.
process.parentPort = {
  postMessage: (message) => process.send({ parentPort: message }),
  on: (event, listener) => {
    if (event === 'message') process.on('message', (envelope) => listener({ data: envelope.parentPort }));
  },
};
