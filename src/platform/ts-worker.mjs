// Worker bootstrap: Node 20 cannot start a worker from a .ts file, so register tsx here and import it.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
