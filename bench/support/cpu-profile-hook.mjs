// Preloaded into a Vigil process by `bench:ingest --cpu-prof DIR` (NODE_OPTIONS=--import …; Node refuses
// --cpu-prof there): profiles the main thread and writes DIR/vigil-<pid>.cpuprofile when the process exits.
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';

const dir = process.env.VIGIL_BENCH_CPU_PROF;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so this works inside 'exit'.
  process.once('exit', () =>
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(`${dir}/vigil-${process.pid}.cpuprofile`, JSON.stringify(res.profile));
    }),
  );
}
