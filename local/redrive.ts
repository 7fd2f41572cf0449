import { sweep } from '#functions/redrive-unfinished-jobs.js';

/**
 * Local executions live in the process: after a restart, every job of the unfinished index is swept at once
 * (no grace: no create request of this process is in flight yet). Its execution is missing, so it is started
 * again; every step is a conditional transition, so a re-driven job continues where it was. Jobs the last
 * run broke without finishing the follow-up get their event and clean-up.
 */
export async function redriveUnfinishedJobs(): Promise<number> {
  const { started, broken, followedUp } = await sweep({ graceMs: 0 });
  return started.length + broken.length + followedUp.length;
}
