// A small log-bucketed latency histogram (about 1% relative precision), mergeable
// across processes: workers send `toJSON()` to the orchestrator, which merges.

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const MIN_US = 1; // values are recorded in microseconds; anything below 1 µs lands in bucket 0
const BUCKETS = Math.ceil(Math.log(600e6 / MIN_US) / LOG_GROWTH) + 1; // up to 10 minutes

export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  /** Record a value in milliseconds (fractions allowed). */
  record(ms) {
    if (!(ms >= 0)) ms = 0; // clock skew between processes can give tiny negatives
    const us = ms * 1000;
    const index = us <= MIN_US ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us / MIN_US) / LOG_GROWTH));
    this.counts[index] += 1;
    this.count += 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other) {
    const counts = other.counts;
    if (Array.isArray(counts)) {
      // sparse JSON form: [[index, count], ...]
      for (const [index, count] of counts) this.counts[index] += count;
    } else {
      for (let i = 0; i < BUCKETS; i++) this.counts[i] += counts[i];
    }
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      if (other.min < this.min) this.min = other.min;
      if (other.max > this.max) this.max = other.max;
    }
    return this;
  }

  /** Percentile in milliseconds (upper edge of the bucket, clamped to the observed range). */
  percentile(p) {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const upper = (MIN_US * GROWTH ** i) / 1000;
        return Math.min(this.max, Math.max(this.min, upper));
      }
    }
    return this.max;
  }

  summary() {
    if (this.count === 0) return { count: 0, mean: null, p50: null, p99: null, max: null };
    return {
      count: this.count,
      mean: this.sum / this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.max,
    };
  }

  toJSON() {
    const sparse = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) sparse.push([i, this.counts[i]]);
    return { counts: sparse, count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  static from(json) {
    return new Histogram().merge(json);
  }
}
