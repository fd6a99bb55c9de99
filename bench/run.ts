/**
 * `npm run bench -- <name>`: runs one benchmark (or all) and prints its figures. Benchmarks print
 * numbers and ratios to their peers measured in the same run; they assert nothing about time.
 */
import { cliBench } from './cli.bench';
import { galleryBench } from './gallery.bench';
import { importBench } from './import.bench';
import { storeBench } from './store.bench';
import { augmentBench } from './augment.bench';
import { quickBench } from './quick.bench';
import { hardeningBench } from './hardening.bench';
import { trainBench } from './train.bench';
import { embedBench } from './embed.bench';
import { healthBench } from './health.bench';
import { queueBench } from './queue.bench';
import { searchBench } from './search.bench';
import { regressionBench } from './regression.bench';

const benches: Record<string, (args: string[]) => Promise<void>> = {
  import: importBench,
  cli: cliBench,
  store: storeBench,
  gallery: galleryBench,
  augment: augmentBench,
  quick: quickBench,
  hardening: hardeningBench,
  train: trainBench,
  embed: embedBench,
  health: healthBench,
  queue: queueBench,
  search: searchBench,
  regression: regressionBench,
};

const [name, ...args] = process.argv.slice(2);
const selected = name ? { [name]: benches[name] } : benches;
for (const [benchName, run] of Object.entries(selected)) {
  if (!run) {
    console.error(`Unknown bench "${benchName}". Known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n## bench: ${benchName}`);
  await run(args);
}
