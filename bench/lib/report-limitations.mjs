/** What the suite's figures cannot tell, listed under them in bench/RESULTS.md. */
export function limitations(r) {
  return [
    `- Everything (servers, generators) shares one ${r.machine.nproc}-core machine: a load generator takes CPU from the server it measures, so absolute figures are lower bounds, and the ratios compare the servers under the same handicap. Other work on the machine adds noise: see the load averages above.`,
    "- One run per cell, no repetitions or confidence intervals; small differences (under ~20%) are within the noise.",
    "- Fan-out latencies are measured across processes with the wall clock (`performance.timeOrigin + performance.now()`), and include the writer's append round trip and the subscriber processes' own event-loop delay under load.",
    "- Long-poll subscribers issue a new request after each answer, so at high subscriber counts the generators and the server are saturated by request churn; compare the servers to each other, not to SSE.",
    "- The restart scenario uses far less data than issue 6's 10 GB (the size is given there).",
    "- Footprint figures are RSS slopes between two readings (allocator and old-generation page state included; a swing of 1 MB between the readings moves the per-stream figure by 200 B at 10,000 streams); heap deltas are shown alongside. Small runs (quick) leave the per-stream figure dominated by allocator noise.",
    "- Failed requests are counted and reported, never retried by the harness (except by the official clients themselves). Seen in the reference's file mode: writes spread over more than ~100 streams at once fail with 404 \"Stream not found\" while the server logs LMDB \"Database is closed\" (its file-handle pool holds 100 handles; the same happens to concurrent PUTs that carry a body, so the idle and restart streams are created empty for every server); and with live SSE readers its appends slow to a few per second (every reader wake-up writes LMDB synchronously).",
  ];
}
