// mq-bench's graphile-worker runner, driven by mq-bench's graphile-worker
// system (mq-bench/src/systems/graphile.rs) over stdin and stdout.
//
//   node worker.mjs migrate                  installs or updates graphile-worker's schema
//   node worker.mjs serve [--pool-size N]    a runner, driven over stdin/stdout
//
// Both connect to $DATABASE_URL (graphile-worker's own default source of the
// connection string).
//
// `serve` loads graphile-worker and prints `ready`; it then waits for one
// line `run default` or `run tuned`, starts graphile-worker's `run()` with
// one task, `bench`, prints `running` once the runner listens for new jobs,
// and from then on prints each job's payload (its JSON, one line per job) as
// the job runs. A line `stop`, the end of stdin, SIGTERM or SIGINT stops the
// runner gracefully (running jobs finish, completions are written, jobs
// fetched ahead are given back); every job line is flushed before it exits
// with status 0. Logs (warnings and errors only) go to stderr.

import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";

// graphile-worker formats an info line per completed job unless this is set
// (it reads it when loaded); the bench logs no info lines anyway, so the
// formatting would be pure overhead on every job.
process.env.NO_LOG_SUCCESS ??= "1";
const { Logger, run, runMigrations } = await import("graphile-worker");

// The pool size: `--pool-size N`, else graphile-worker's default (10).
function poolSize(args) {
  const i = args.indexOf("--pool-size");
  if (i < 0) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(`--pool-size needs an integer of at least 2, got ${args[i + 1]}`);
  }
  return n;
}

// Runner settings per mode. `default` sets nothing, so graphile-worker's
// documented defaults apply: concurrentJobs 1, pollInterval 2000 ms, no
// local queue (each worker fetches its own job), completeJobBatchDelay and
// failJobBatchDelay -1 (each job completed by its own statement).
// `tuned` is graphile-worker's batched mode (its docs' "Performance",
// "Batching"): a local queue fetching 500 jobs at a time, and completions
// and failures batched (delay 0: those made before the event loop's next
// timer turn go in one statement), with 256 concurrent jobs, no more than
// the local queue holds, as graphile-worker asks. mq-bench's graphile.rs
// describes these settings in its tables: keep the two in step.
const MODES = {
  default: { concurrency: undefined, worker: {} },
  tuned: {
    concurrency: 256,
    worker: {
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  },
};

// Warnings and errors to stderr; info and debug dropped (graphile-worker's
// default logger prints them with console.log, to stdout, where the job
// lines go).
const logger = new Logger(() => (level, message) => {
  if (level !== "error" && level !== "warning") return;
  // The bench gives every system the same pool (--pool-size); in batched
  // mode the workers take jobs from the local queue and complete them in
  // batches, so they do not each need a connection, as this warns.
  if (message.startsWith("WARNING: having maxPoolSize")) return;
  process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  process.stderr.write("worker.mjs: set DATABASE_URL\n");
  process.exit(2);
}

const [command, ...args] = process.argv.slice(2);
if (command === "migrate") {
  await runMigrations({ connectionString, logger });
} else if (command === "serve") {
  await serve(poolSize(args));
} else {
  process.stderr.write("usage: node worker.mjs migrate | serve [--pool-size N]\n");
  process.exit(2);
}

// Job lines are gathered and written once per turn of the event loop: one
// write per line would cost a system call per job.
function makeOutput() {
  let lines = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const chunk = lines.join("\n") + "\n";
    lines = [];
    process.stdout.write(chunk);
  };
  return {
    line(text) {
      lines.push(text);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    // Flushes what is gathered and resolves once stdout took all of it
    // (writes to a pipe are asynchronous in Node; exiting before they
    // finish would lose job lines).
    finish() {
      flush();
      return new Promise((resolve) => process.stdout.write("", resolve));
    },
  };
}

async function serve(maxPoolSize) {
  const out = makeOutput();
  out.line("ready");
  const input = createInterface({ input: process.stdin });
  let runner = null;
  let stopping = null;
  const shutdown = async () => {
    try {
      if (runner) await runner.stop();
      await out.finish();
      process.exit(0);
    } catch (error) {
      process.stderr.write(`worker.mjs: stopping failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    }
  };
  const stop = () => {
    stopping ??= shutdown();
    return stopping;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  for await (const line of input) {
    const [word, mode] = line.trim().split(/\s+/);
    if (word === "stop") break;
    if (word !== "run" || runner || !Object.hasOwn(MODES, mode ?? "")) {
      process.stderr.write(`worker.mjs: unexpected line ${JSON.stringify(line)}\n`);
      process.exit(2);
    }
    const settings = MODES[mode];
    const events = new EventEmitter();
    // `running` once the runner listens for new-job notifications, so that
    // jobs spawned from then on wake it at once.
    events.once("pool:listen:success", () => out.line("running"));
    runner = await run({
      connectionString,
      maxPoolSize,
      concurrency: settings.concurrency,
      noHandleSignals: true,
      logger,
      events,
      preset: { worker: settings.worker },
      // No cron: without this, graphile-worker reads ./crontab.
      parsedCronItems: [],
      taskList: {
        bench(payload) {
          out.line(JSON.stringify(payload));
        },
      },
    });
    runner.promise.catch((error) => {
      process.stderr.write(`worker.mjs: runner failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    });
  }
  await stop();
}
