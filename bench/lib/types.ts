/**
 * The shapes every scenario returns. A scenario is one function (`Scenario.run`) that sets up its own
 * processes and temp dirs, measures, tears everything down, and returns raw samples; the runner does
 * the statistics, the table and the JSON, so adding a scenario touches only scenarios/.
 */
export interface Metric {
  /** Stable key for the JSON and for ratios, e.g. 'bridge-direct'. */
  id: string;
  /** Row label in the table. */
  label: string;
  /** Raw samples, in the order measured, in `unit`. */
  samples: number[];
  /** Default 'ms'. A row in another unit (e.g. 'KiB') says so in the table. */
  unit?: string;
  /** false: in the JSON only, not a table row (e.g. one row per replica of 32). */
  inTable?: boolean;
}

export interface Ratio {
  label: string;
  /** Metric ids; the ratio is median(numerator) / median(denominator) (or `stat`), both measured in the same run. */
  numerator: string;
  denominator: string;
  /** Which statistic of both (default 'median'). */
  stat?: 'median' | 'p95';
  /** A target the ratio must not exceed (printed beside it, `met` in the JSON). */
  target?: { max: number; label: string };
}

export interface ScenarioResult {
  /** What was set up: rounds, replica specs, exact commands. */
  params: Record<string, unknown>;
  metrics: Metric[];
  ratios: Ratio[];
  /** Sanity figures that say whether the numbers mean what they claim (logins, stray batches …). */
  checks: Record<string, unknown>;
  /** Lines printed under the table in full (e.g. which rows were skipped and why). */
  notes?: string[];
  /** Latency distributions to draw as an SVG next to the JSON (`<out>.<scenario id>.svg`). */
  chart?: { title: string; metricIds: string[] };
}

export interface ScenarioContext {
  quick: boolean;
  /** `--replicas 16,4,32`: replica counts for the scenarios that take them (farm); undefined = theirs. */
  replicas?: readonly number[];
  /** Aborted on SIGINT/SIGTERM or the run's watchdog: scenarios stop at the next round. */
  signal: AbortSignal;
  /** Progress to stderr (stdout carries only the table). */
  log(message: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** One paragraph for the table header and the JSON: what the numbers are. */
  describe(quick: boolean): string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
  /** Full runs only: this scenario's own watchdog, when the default 10 min is too short (e.g. 1M directories). */
  watchdogMs?: number;
  /** Not part of a plain `npm run bench`: runs only when named with --only (e.g. a run of many minutes). */
  optIn?: boolean;
}
