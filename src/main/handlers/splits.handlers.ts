import { planRebalance } from '../dataset/rebalance';
import { splitReport } from '../dataset/splitReport';
import { editBatch } from './images.handlers';
import type { AreaHandlers, CoreServices } from './types';

/** splits:* — the report with its warnings, and stratified rebalancing (preview, then apply). */
export function splitHandlers(core: CoreServices): AreaHandlers<'splits'> {
  const db = () => core.requireProject().db;
  return {
    'splits:report': ({ pThreshold, minPerClass }) => splitReport(db(), pThreshold, minPerClass),
    'splits:plan': (options) => {
      const { changes: _changes, ...plan } = planRebalance(db(), options);
      return plan;
    },
    'splits:apply': (options) => {
      const { train, valid, test } = options.ratios;
      const locked = options.locked.length > 0 ? `, ${options.locked.join(' and ')} locked` : '';
      return editBatch(core, 'rebalance', `Rebalanced splits ${train}/${valid}/${test}${locked} (seed ${options.seed})`, () =>
        planRebalance(db(), options).changes,
      );
    },
  };
}
