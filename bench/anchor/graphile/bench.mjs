// graphile-worker lease-run-delete throughput of a no-op task: the anchor
// that bench/queue_throughput_bench is compared with (bench/queue_anchor.sh).
//
// Per run: drop and re-create graphile-worker's schema (its own migrations),
// enqueue --jobs jobs with addJobs (not timed), then time runOnce() with a
// pool of --concurrency workers until the queue is empty and every job's row
// is deleted (runOnce() may return a moment before its last completions
// commit). Every job must run and every row must be gone afterwards;
// otherwise the run prints its RESULT line with "ok":false and the process
// exits 1.
//
//   node bench.mjs --dsn='host=127.0.0.1 port=5432 user=postgres dbname=x' \
//       [--mode=batched|unbatched] [--jobs=50000] [--concurrency=24] [--runs=1]
//
// Modes follow graphile-worker's performance page: "batched" is its tuned
// configuration (localQueue of 500 jobs, completeJobBatchDelay and
// failJobBatchDelay 0); "unbatched" leaves both at their defaults (-1: each
// worker fetches its own job and deletes it in its own statement).
// Output: one line per run, `RESULT {json}`; everything else goes to stderr.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { EventEmitter } from "node:events";

import pg from "pg";
import { Logger, makeWorkerUtils, runMigrations, runOnce } from "graphile-worker";

const USAGE = `usage: node bench.mjs --dsn=DSN [--mode=batched|unbatched] [--jobs=50000]
  [--concurrency=24] [--local_queue=500] [--complete_batch_delay=0] [--runs=1]
  [--schema=graphile_worker_anchor] [--add_chunk=10000] [--keep_schema]
DSN: a libpq keyword string (host=... port=... user=... dbname=...) or a postgres:// URL`;

function parseArgs(argv) {
  const args = {
    dsn: process.env.SLUICE_DSN || "",
    mode: "batched",
    jobs: 50000,
    concurrency: 24,
    local_queue: 500,
    complete_batch_delay: 0,
    runs: 1,
    schema: "graphile_worker_anchor",
    add_chunk: 10000,
    keep_schema: false,
  };
  for (const arg of argv) {
    const m = /^--([a-z_-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    const key = m[1].replace(/-/g, "_");
    if (!(key in args)) throw new Error(`unknown flag --${m[1]}\n${USAGE}`);
    const value = m[2];
    if (typeof args[key] === "boolean") args[key] = value === undefined || value === "true";
    else if (typeof args[key] === "number") args[key] = Number(value);
    else args[key] = value ?? "";
  }
  if (!args.dsn) throw new Error(`--dsn (or SLUICE_DSN) is required\n${USAGE}`);
  if (!["batched", "unbatched"].includes(args.mode)) throw new Error(`--mode must be batched or unbatched`);
  for (const k of ["jobs", "concurrency", "runs", "add_chunk"]) {
    if (!Number.isInteger(args[k]) || args[k] < 1) throw new Error(`--${k} must be a positive integer`);
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(args.schema)) throw new Error("--schema must be a plain identifier");
  return args;
}

// node-postgres takes URLs; Sluice's scripts hand out libpq keyword strings.
function pgConfig(dsn) {
  if (dsn.includes("://")) return { connectionString: dsn };
  const keys = { host: "host", hostaddr: "host", port: "port", user: "user", dbname: "database", password: "password" };
  const config = {};
  for (const m of dsn.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g)) {
    const value = m[2].startsWith("'") ? m[2].slice(1, -1).replace(/\\(.)/g, "$1") : m[2];
    if (keys[m[1]]) config[keys[m[1]]] = m[1] === "port" ? Number(value) : value;
  }
  return config;
}

// Warnings and errors only: graphile-worker logs every job at info level.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`[graphile-worker ${level}] ${message}`);
});

function workerPreset(args) {
  const batched = args.mode === "batched";
  return {
    worker: {
      schema: args.schema,
      concurrentJobs: args.concurrency,
      maxPoolSize: args.concurrency + 1,
      localQueue: { size: batched ? args.local_queue : -1 },
      completeJobBatchDelay: batched ? args.complete_batch_delay : -1,
      failJobBatchDelay: batched ? args.complete_batch_delay : -1,
    },
  };
}

async function runOnceMeasured(args, pool, runIndex) {
  const preset = workerPreset(args);
  const jobsTable = `"${args.schema}"._private_jobs`;

  // Fresh schema: graphile-worker's own migrations into an empty schema.
  await pool.query(`drop schema if exists "${args.schema}" cascade`);
  await runMigrations({ pgPool: pool, logger, preset });

  // Enqueue (not timed).
  const addStart = performance.now();
  const utils = await makeWorkerUtils({ pgPool: pool, logger, preset });
  try {
    for (let i = 0; i < args.jobs; i += args.add_chunk) {
      const specs = [];
      for (let j = i; j < Math.min(args.jobs, i + args.add_chunk); ++j) {
        specs.push({ identifier: "noop", payload: { i: j } });
      }
      await utils.addJobs(specs);
    }
  } finally {
    await utils.release();
  }
  const addSeconds = (performance.now() - addStart) / 1000;
  const queued = (await pool.query(`select count(*)::int as n from ${jobsTable}`)).rows[0].n;
  if (queued !== args.jobs) throw new Error(`enqueued ${args.jobs} jobs but the table holds ${queued}`);

  // Every connection of the pool open before the clock starts.
  const clients = await Promise.all(Array.from({ length: args.concurrency + 1 }, () => pool.connect()));
  clients.forEach((c) => c.release());

  const runs = new Uint16Array(args.jobs);
  const taskList = {
    noop: async (payload) => {
      runs[payload.i]++;
    },
  };
  // The clock runs from the worker pool's creation (graphile-worker's own
  // start-up, a migration check and option processing, is before it and
  // reported as init_ms) to runOnce() returning: the queue empty, batched
  // completions flushed.
  const events = new EventEmitter();
  let poolCreatedAt = null;
  let firstJobAt = null;
  events.once("pool:create", () => {
    poolCreatedAt = performance.now();
  });
  events.once("job:start", () => {
    firstJobAt = performance.now();
  });

  const called = performance.now();
  await runOnce({ pgPool: pool, logger, preset, taskList, events, noHandleSignals: true });
  // runOnce() can return while the last few completions (up to one per
  // worker) are still being committed: with concurrency 24 and no batching,
  // 1-4 rows were still in the table when counted at once, and gone a
  // moment later. A job is done when its row is deleted, so the clock stops
  // when the table is empty; a row still there after DRAIN_MS is left.
  const DRAIN_MS = 10000;
  const countLeft = async () =>
    (await pool.query(`select count(*)::int as n from ${jobsTable}`)).rows[0].n;
  let left = await countLeft();
  let drainPolls = 0;
  const returned = performance.now();
  while (left > 0 && performance.now() - returned < DRAIN_MS) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    left = await countLeft();
    ++drainPolls;
  }
  const end = performance.now();
  if (poolCreatedAt === null) throw new Error("graphile-worker emitted no pool:create event");
  const seconds = (end - poolCreatedAt) / 1000;
  let executed = 0;
  let lost = 0;
  let duplicates = 0;
  for (const n of runs) {
    executed += n;
    if (n === 0) lost++;
    if (n > 1) duplicates += n - 1;
  }
  const ok = left === 0 && lost === 0;
  const result = {
    system: "graphile-worker",
    mode: args.mode,
    version: graphileVersion(),
    node: process.version,
    run: runIndex + 1,
    enqueued: args.jobs,
    jobs: args.jobs - lost,
    executed,
    duplicates,
    left_in_table: left,
    drain_ms: Number((end - returned).toFixed(1)),
    drain_polls: drainPolls,
    ok,
    seconds: Number(seconds.toFixed(4)),
    jobs_per_s: Number((args.jobs / seconds).toFixed(1)),
    init_ms: Number((poolCreatedAt - called).toFixed(1)),
    first_job_ms: firstJobAt === null ? null : Number((firstJobAt - poolCreatedAt).toFixed(1)),
    enqueue_seconds: Number(addSeconds.toFixed(3)),
    concurrency: args.concurrency,
    local_queue: preset.worker.localQueue.size,
    complete_batch_delay: preset.worker.completeJobBatchDelay,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  if (!args.keep_schema) await pool.query(`drop schema if exists "${args.schema}" cascade`);
  return ok;
}

function graphileVersion() {
  const url = new URL("./node_modules/graphile-worker/package.json", import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pool = new pg.Pool({ ...pgConfig(args.dsn), max: args.concurrency + 1 });
  // Idle clients can error (e.g. the server going away): log, do not crash.
  pool.on("error", (e) => console.error(`pg pool error: ${e.message}`));
  pool.on("connect", (client) => client.on("error", (e) => console.error(`pg client error: ${e.message}`)));
  let allOk = true;
  try {
    for (let r = 0; r < args.runs; ++r) allOk = (await runOnceMeasured(args, pool, r)) && allOk;
  } finally {
    await pool.end();
  }
  if (!allOk) {
    console.error("graphile-worker bench: jobs were lost or left in the table");
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e && e.message && e.message.includes("usage:") ? e.message : e && e.stack ? e.stack : String(e));
  process.exit(2);
});
