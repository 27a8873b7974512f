/** Worker thread of {@link DataLoader}: runs jobs and transfers the view buffers back. */
import { parentPort } from 'node:worker_threads';
import { runJob, type Job } from './augment-job.js';

parentPort?.on('message', async (msg: { id: number; job: Job }) => {
  const res = await runJob(msg.job);
  const transfer = res.ok ? res.views.map((v) => v.buffer as ArrayBuffer) : [];
  parentPort?.postMessage({ id: msg.id, res }, transfer);
});
