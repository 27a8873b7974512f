/**
 * Per-frame progress on stderr: a cli-progress bar on a terminal, and plain lines (at most one per
 * 10% and the last) when stderr is a file or pipe, so logs hold no carriage returns.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function frameProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY === true) {
    const bar = new SingleBar({ format: `${label} {value}/{total} |{bar}| ETA {eta_formatted}`, hideCursor: true, stream }, undefined);
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let lastTenth = -1;
  return {
    update(done, total) {
      const tenth = Math.floor((10 * done) / total);
      if (tenth === lastTenth && done !== total) return;
      lastTenth = tenth;
      stream.write(`${label} ${done}/${total}\n`);
    },
    stop: () => {},
  };
}
