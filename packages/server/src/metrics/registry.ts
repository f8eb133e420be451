import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's one metrics registry, and the few shapes every Rill metric
 * takes. A module that wants a metric imports `counter`, `gauge`, `histogram`
 * or `sampledGauge` from here and defines it at top level; nothing else is
 * needed (no wiring through the server). Metrics are process-wide, like
 * Prometheus expects of a process: several servers in one process add up.
 *
 * Recording can be switched off (`rill serve --no-metrics`,
 * `startServer({ metrics: false })`): every handle checks one flag first, so
 * the hot path then costs a branch. Labelled children are cached by their
 * values, so recording does not hash label objects on every call.
 */
export const registry = new Registry();

const state = { enabled: true, defaultsCollected: false };

export function setMetricsEnabled(enabled: boolean): void {
  state.enabled = enabled;
  if (enabled && !state.defaultsCollected) {
    // Event-loop lag, heap, GC, CPU, file descriptors: prom-client's process metrics.
    collectDefaultMetrics({ register: registry });
    state.defaultsCollected = true;
  }
}

export function metricsEnabled(): boolean {
  return state.enabled;
}

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}

/** Children by label values (in the order the metric declared its labels), made once each. */
class Children<T> {
  private readonly made = new Map<string, T>();
  constructor(private readonly make: (values: string[]) => T) {}

  get(values: string[]): T {
    const key = values.join("\u0000");
    let child = this.made.get(key);
    if (child === undefined) this.made.set(key, (child = this.make(values)));
    return child;
  }
}

/** A counter, optionally labelled: `c.inc()` or `c.at("POST", "2xx").inc()`. */
export class CounterHandle {
  private readonly children: Children<Inc>;
  constructor(private readonly metric: Counter<string>) {
    this.children = new Children((values) => {
      const inner = metric.labels(...values);
      return { inc: (value = 1) => void (state.enabled && inner.inc(value)) };
    });
  }

  inc(value = 1): void {
    if (state.enabled) this.metric.inc(value);
  }

  at(...values: string[]): Inc {
    return this.children.get(values);
  }
}

/** A histogram, optionally labelled: `h.observe(s)` or `h.at("sqlite").observe(s)`. */
export class HistogramHandle {
  private readonly children: Children<Observe>;
  constructor(private readonly metric: Histogram<string>) {
    this.children = new Children((values) => {
      const inner = metric.labels(...values);
      return { observe: (value) => void (state.enabled && inner.observe(value)) };
    });
  }

  observe(value: number): void {
    if (state.enabled) this.metric.observe(value);
  }

  at(...values: string[]): Observe {
    return this.children.get(values);
  }
}

export interface MetricSpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export function counter(spec: MetricSpec): CounterHandle {
  return new CounterHandle(new Counter({ ...spec, labelNames: spec.labelNames ?? [], registers: [registry] }));
}

/** Latency buckets (seconds) from 100 µs to 10 s: fsyncs, commit rounds, requests. */
export const SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export function histogram(spec: MetricSpec & { buckets: number[] }): HistogramHandle {
  return new HistogramHandle(new Histogram({ ...spec, labelNames: spec.labelNames ?? [], registers: [registry] }));
}

/** A gauge the code sets directly (`g.set(n)`), for values that change at known points. */
export function gauge(spec: MetricSpec): Gauge<string> {
  return new Gauge({ ...spec, labelNames: spec.labelNames ?? [], registers: [registry] });
}

/** What a sampled gauge's source reports: one value, or values by label set. */
export type Sample = number | ReadonlyArray<readonly [labels: Record<string, string>, value: number]>;
export type SampleSource = () => Sample | undefined | Promise<Sample | undefined>;

export interface SampledGauge {
  /** Adds a source (e.g. one server's store); returns a function that removes it. */
  addSource(source: SampleSource): () => void;
}

/**
 * A gauge read at scrape time from whoever registered a source: queue
 * depths, open connections, pool sizes, store sizes. Values of several
 * sources (several servers in one process) add up; a source that answers
 * undefined (or fails) contributes nothing to that scrape.
 */
export function sampledGauge(spec: MetricSpec): SampledGauge {
  const sources = new Set<SampleSource>();
  new Gauge({
    ...spec,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    async collect() {
      this.reset();
      const samples = await Promise.all([...sources].map((source) => Promise.resolve().then(source).catch(() => undefined)));
      for (const sample of samples) {
        if (sample === undefined) continue;
        if (typeof sample === "number") this.inc(sample);
        else for (const [labels, value] of sample) this.inc(labels, value);
      }
    },
  });
  return {
    addSource(source) {
      sources.add(source);
      return () => void sources.delete(source);
    },
  };
}
