// The suite section of bench/RESULTS.md (`npm run bench`): one table per scenario, side by
// side with the reference server and, for appends, the bare node:http ceiling, plus the
// targets table of issue 13 judged on the same run.
import { CEILING, SERVERS } from "./common.mjs";
import { limitations } from "./report-limitations.mjs";
import { fmt, fmtRatio, machineMarkdown, ratio, sig, table } from "./report.mjs";
import { postgresSection } from "./report-postgres.mjs";
import { lineChart } from "./svg-chart.mjs";

export function buildReport(r, P, servers) {
  const COLORS = { ceiling: "#7f7f7f", "rill-sqlite": "#d62728", "rill-memory": "#ff7f0e", "ref-memory": "#1f77b4", "ref-file": "#2ca02c" };
  const names = Object.keys(SERVERS).filter((s) => servers.includes(s));
  const label = (s) => (s === "ceiling" ? CEILING.label : SERVERS[s].label);
  const atLeast = (value, limit) => (value === null ? null : value >= limit);
  const md = [];
  const targets = [];
  const target = (what, measured, met, note = "") => targets.push([what, measured, met === null ? "n/a" : met ? "**met**" : "**not met**", note]);

  md.push(`## Benchmark suite${r.quick ? " — quick run (`npm run bench -- --quick`)" : " — full run (`npm run bench`)"}`);
  md.push("", machineMarkdown(r.machine, r.loadAtEnd), "", `Run time: ${fmt(r.seconds)} s.`);
  if (r.quick) md.push("", "**Quick run**: shorter durations and smaller sizes than issue 6 asks for (see each scenario); the targets are judged on these smaller runs and are only indicative.");

  // Scenario 1
  let s1md = [];
  if (r.s1) {
    const get = (server, streams, conns) => r.s1.find((x) => x.server === server && x.streams === streams && x.connections === conns);
    const rows = [];
    const cpuRows = [];
    for (const streams of P.s1.streamCounts) {
      for (const conns of P.s1.connections) {
        const cell = (s) => {
          const x = get(s, streams, conns);
          if (!x) return r.s1.some((f) => f.server === s && f.streams === streams && f.error) ? "failed (see below)" : "–";
          const errors = x.non2xx || x.errors ? ` ⚠ ${fmt(x.non2xx + x.errors)} failed` : "";
          return `${fmt(x.appendsPerSec)} (${sig(x.latency?.p50)} / ${sig(x.latency?.p99)} ms)${errors}`;
        };
        const rate = (s) => get(s, streams, conns)?.appendsPerSec;
        const rs = rate("rill-sqlite");
        const ceiling = rate("ceiling");
        rows.push([
          `${streams} stream${streams > 1 ? "s" : ""}, ${conns} conn${conns > 1 ? "s" : ""}`,
          cell("ceiling"),
          ...names.map(cell),
          fmtRatio(ratio(rs, ceiling)),
          fmtRatio(ratio(rate("rill-memory"), ceiling)),
          fmtRatio(ratio(rs, rate("ref-memory"))),
          fmtRatio(ratio(rs, rate("ref-file"))),
        ]);
        cpuRows.push([
          `${streams} stream${streams > 1 ? "s" : ""}, ${conns} conn${conns > 1 ? "s" : ""}`,
          ...["ceiling", ...names].map((s) => fmt(get(s, streams, conns)?.cpuMicrosPerAppend)),
        ]);
        if (conns === 64) {
          const where = `S1 64 conns, ${fmt(streams)} stream${streams > 1 ? "s" : ""}`;
          const sqliteCeiling = ratio(rs, ceiling);
          const sqliteRefMemory = ratio(rs, rate("ref-memory"));
          const memoryCeiling = ratio(rate("rill-memory"), ceiling);
          target(`${where}: Rill SQLite ≥ 0.5× ceiling`, fmtRatio(sqliteCeiling), atLeast(sqliteCeiling, 0.5));
          target(`${where}: Rill SQLite ≥ 1.2× reference memory`, fmtRatio(sqliteRefMemory), atLeast(sqliteRefMemory, 1.2));
          target(`${where}: Rill memory ≥ 0.7× ceiling`, fmtRatio(memoryCeiling), atLeast(memoryCeiling, 0.7));
        }
      }
    }
    const failures = r.s1.filter((x) => x.non2xx > 0);
    s1md = [
      `### 1. Durable appends`,
      "",
      `Each connection POSTs one 256-byte JSON message at a time (autocannon, keep-alive), ${P.s1.durationSec} s per cell after a ${P.s1.warmupSec} s warm-up; ` +
        `with 1,000 streams the requests go round-robin over the streams. Cells: appends/s (p50 / p99 latency). Only 2xx answers count. ` +
        `The ceiling is bare node:http reading each body and answering 204 with a Stream-Next-Offset, storing nothing: the most this machine's HTTP path and generator allow.`,
      "",
      table(["load", label("ceiling"), ...names.map(label), "Rill SQLite ÷ ceiling", "Rill memory ÷ ceiling", "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
      "",
      "Server CPU time per append (µs; user + system time of the server process over the cell, warm-up included, divided by the requests it answered). " +
        "Unlike appends/s it barely moves when other work shares the cores, so it is the figure to compare across runs:",
      "",
      table(["load", label("ceiling"), ...names.map(label)], cpuRows),
    ];
    if (failures.length) {
      s1md.push(
        "",
        "Failed appends (non-2xx answers): " +
          failures.map((x) => `${label(x.server)} ${x.streams} streams/${x.connections} conns: ${fmt(x.non2xx)} (${Object.entries(x.non2xxStatuses ?? {}).map(([k, v]) => `${k}×${v}`).join(", ")})`).join("; ") +
          ".",
      );
    }
  }

  // Scenario 2
  let s2md = [];
  if (r.s2) {
    const get = (server, impl, streams) => r.s2.find((x) => x.server === server && x.impl === impl && x.streams === streams);
    const cell = (x) => (!x ? "–" : x.error ? "failed (see below)" : `${fmt(x.msgsPerSec)} (${sig(x.seconds)} s)`);
    const rows = [];
    for (const streams of P.s2.streamCounts) {
      const own = (s) => get(s, r.s2own[s], streams);
      const rs = own("rill-sqlite")?.msgsPerSec;
      rows.push([`own client, ${streams} stream${streams > 1 ? "s" : ""}`, ...names.map((s) => cell(own(s))), fmtRatio(ratio(rs, own("ref-memory")?.msgsPerSec)), fmtRatio(ratio(rs, own("ref-file")?.msgsPerSec))]);
      const officialOnRef = get("ref-memory", "official", streams)?.msgsPerSec;
      const rillOnRill = ratio(get("rill-sqlite", "rill", streams)?.msgsPerSec, officialOnRef);
      const officialOnRill = ratio(get("rill-sqlite", "official", streams)?.msgsPerSec, officialOnRef);
      target(`S2 producer, ${streams} stream(s): @rill/client on Rill SQLite ≥ 1.5× official client on reference memory`, fmtRatio(rillOnRill), atLeast(rillOnRill, 1.5));
      target(`S2 producer, ${streams} stream(s): official client on Rill SQLite ≥ 1.3× official client on reference memory`, fmtRatio(officialOnRill), atLeast(officialOnRill, 1.3));
      for (const impl of ["official", "raw", "rill"]) {
        const anyRow = names.some((s) => get(s, impl, streams) && r.s2own[s] !== impl);
        if (!anyRow) continue;
        const x = (s) => get(s, impl, streams);
        rows.push([`${impl} client, ${streams} stream${streams > 1 ? "s" : ""}`, ...names.map((s) => cell(x(s))), fmtRatio(ratio(x("rill-sqlite")?.msgsPerSec, x("ref-memory")?.msgsPerSec)), fmtRatio(ratio(x("rill-sqlite")?.msgsPerSec, x("ref-file")?.msgsPerSec))]);
      }
    }
    const ownNote = r.hasRillClient
      ? "\"own client\" is `@rill/client`'s IdempotentProducer for Rill and `@durable-streams/client@0.2.7`'s for the reference."
      : "**`@rill/client` did not export `IdempotentProducer` at run time**, so \"own client\" for Rill is the minimal raw producer (`bench/gen/producer.mjs`: 1 MB JSON-array batches, Producer-Id/Epoch/Seq headers, 5 batches pipelined on one connection); the reference uses `@durable-streams/client@0.2.7`. The \"raw client\" rows run that same raw producer against every server.";
    s2md = [
      `### 2. Idempotent producer throughput`,
      "",
      `${fmt(P.s2.messages)} JSON messages of 256 bytes in total, appended as fast as the producer accepts them, then flushed; with 100 streams one producer per stream, all at once ` +
        `(maxBatchBytes 1 MB, maxInFlight 5, lingerMs 5). Every run is verified afterwards by reading the streams back and counting the messages. Cells: messages/s (total time). ${ownNote}`,
      "",
      table(["producer", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 3
  let s3md = [];
  if (r.s3) {
    const get = (s) => r.s3.find((x) => x.server === s);
    const metric = (title, pick, digits = 1, lowerBetter = false) => {
      const rs = pick(get("rill-sqlite"));
      return [title, ...names.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(rs, pick(get("ref-memory")) ?? NaN)), fmtRatio(ratio(rs, pick(get("ref-file")) ?? NaN))].concat(lowerBetter ? [] : []);
    };
    const rows = [
      metric("aggregate MB/s", (x) => x?.aggregateMBps),
      metric("median reader MB/s", (x) => x?.readerMBpsMedian, 2),
      metric("time to first byte p50 (ms)", (x) => x?.ttfb?.p50),
      metric("time to first byte p99 (ms)", (x) => x?.ttfb?.p99),
      metric("all readers done (s)", (x) => x?.seconds, 2),
      metric("requests per reader", (x) => x?.requestsPerReader, 0),
    ];
    const s3 = get("rill-sqlite");
    const within = (value, limit) => (value === undefined || value === null ? null : value < limit);
    target(`S3 catch-up, ${P.s3.readers} readers: Rill SQLite aggregate ≥ 1 GB/s`, s3?.aggregateMBps ? `${fmt(s3.aggregateMBps)} MB/s` : "–", s3?.aggregateMBps ? s3.aggregateMBps >= 1000 : null);
    target("S3 catch-up: time to first byte p50 < 50 ms", s3?.ttfb ? `${sig(s3.ttfb.p50)} ms` : "–", within(s3?.ttfb?.p50, 50));
    target("S3 catch-up: time to first byte p99 < 250 ms", s3?.ttfb ? `${sig(s3.ttfb.p99)} ms` : "–", within(s3?.ttfb?.p99, 250));
    s3md = [
      `### 3. Catch-up reads`,
      "",
      `${P.s3.readers} concurrent readers (one keep-alive connection each) replay a ${fmt((r.s3[0]?.streamBytes ?? P.s3.streamBytes) / 1e6, 1)} MB JSON stream ` +
        `(256-byte messages) from \`-1\`, following \`Stream-Next-Offset\` until \`Stream-Up-To-Date\`. Ratios are Rill SQLite ÷ reference (for times, lower is better).`,
      "",
      table(["metric", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 4
  let s4md = [];
  /**
   * p99 over every scheduled delivery (appends × subscribers). Deliveries that never happened
   * waited at least the grace period (append never acknowledged) or the drain period (acknowledged,
   * not delivered); when more than 1% are missing the p99 is only known as a lower bound.
   */
  const p99Of = (x) => {
    if (!x || x.error || !x.latency || x.latency.p99 === null) return null;
    const ideal = x.scheduled * x.subscribers;
    const missing = Math.max(0, ideal - x.delivered);
    const unacknowledged = (x.scheduled - x.acknowledged) * x.subscribers;
    if (missing / ideal <= 0.01) return { value: x.latency.p99, censored: false };
    const bound = unacknowledged / ideal > 0.01 ? P.s4.graceSec * 1000 : P.s4.drainMs;
    return { value: Math.max(x.latency.p99, bound), censored: true, missingPct: (100 * missing) / ideal };
  };
  const boundedRatio = (a, b) => {
    const none = { text: "–", atMost: () => null, note: "" };
    if (!a || !b) return none;
    const value = a.value / b.value;
    if (!a.censored && !b.censored) return { text: fmtRatio(value), atMost: (limit) => value <= limit, note: "" };
    if (!a.censored && b.censored) {
      return {
        text: `≤ ${fmtRatio(value)}`,
        atMost: (limit) => (value <= limit ? true : null),
        note: `the reference did not deliver ${fmt(b.missingPct, 0)}% of the messages in time: its p99 is a lower bound`,
      };
    }
    if (a.censored && !b.censored) {
      return { text: `≥ ${fmtRatio(value)}`, atMost: (limit) => (value > limit ? false : null), note: `Rill did not deliver ${fmt(a.missingPct, 0)}% of the messages in time` };
    }
    return { text: "both incomplete", atMost: () => null, note: "neither server delivered every message in time" };
  };
  if (r.s4) {
    const get = (s, mode, n) => r.s4.find((x) => x.server === s && x.mode === mode && x.subscribers === n);
    const rows = [];
    for (const { mode, subscribers } of P.s4.points) {
      const cell = (s) => {
        const x = get(s, mode, subscribers);
        if (!x) return "–";
        if (x.error) return "failed (see below)";
        const notes = [];
        if (x.acknowledged < x.scheduled) notes.push(`only ${fmt(x.acknowledged)}/${fmt(x.scheduled)} appends acknowledged in time`);
        if (x.deliveredPct !== null && x.deliveredPct < 99.99) notes.push(`${fmt(x.deliveredPct, 1)}% delivered`);
        if (x.duplicates) notes.push(`${fmt(x.duplicates)} duplicates`);
        return `${sig(x.latency?.p50)} / ${sig(x.latency?.p99)} / ${sig(x.latency?.max)}${notes.length ? ` ⚠ ${notes.join(", ")}` : ""}`;
      };
      const rs = p99Of(get("rill-sqlite", mode, subscribers));
      const rm = boundedRatio(rs, p99Of(get("ref-memory", mode, subscribers)));
      const rf = boundedRatio(rs, p99Of(get("ref-file", mode, subscribers)));
      rows.push([`${mode}, ${fmt(subscribers)} subs`, ...names.map(cell), rm.text, rf.text]);
      const x = get("rill-sqlite", mode, subscribers);
      const onTime = x && !x.error ? x.acknowledged === x.scheduled : null;
      const p99Text = rs ? `${rs.censored ? "≥ " : ""}${sig(rs.value)} ms` : "–";
      if (mode === "sse" && subscribers === 1000) {
        target("S4 SSE 1,000 subs: Rill SQLite p99 ≤ 50 ms", p99Text, rs ? rs.value <= 50 && !rs.censored : null);
      }
      if (mode === "sse" && subscribers === 5000) {
        const all = x && !x.error ? x.deliveredPct !== null && x.deliveredPct >= 99.99 : null;
        target("S4 SSE 5,000 subs: Rill SQLite p99 ≤ 250 ms, every message delivered", `${p99Text}${x?.deliveredPct != null ? `, ${fmt(x.deliveredPct, 2)}% delivered` : ""}`, rs && all !== null ? rs.value <= 250 && !rs.censored && all : null);
      }
      if (mode === "sse" && subscribers >= 1000) {
        target(`S4 SSE ${fmt(subscribers)} subs: every append acknowledged on time while fan-out runs`, x && !x.error ? `${fmt(x.acknowledged)}/${fmt(x.scheduled)}` : "–", onTime);
      }
      if (mode === "long-poll" && subscribers === 1000) {
        target("S4 long-poll 1,000 subs: Rill SQLite p99 ≤ 0.25× reference memory", rm.text, rm.atMost(0.25), rm.note);
      }
    }
    if (!P.s4.points.some((p) => p.mode === "sse" && p.subscribers === 5000)) target("S4 SSE 5,000 subs: Rill SQLite p99 ≤ 250 ms, every message delivered", "not run", null, "quick run stops at 1,000");
    if (!P.s4.points.some((p) => p.mode === "long-poll" && p.subscribers === 1000)) target("S4 long-poll 1,000 subs: Rill SQLite p99 ≤ 0.25× reference memory", "not run", null, "quick run stops at 100");
    const cpuRows = P.s4.points.map(({ mode, subscribers }) => [
      `${mode}, ${fmt(subscribers)} subs`,
      ...names.map((s) => {
        const x = get(s, mode, subscribers);
        return x && !x.error ? `${fmt(x.serverCores, 2)} / ${fmt(x.subscriberCores, 2)}${x.serverCpuWait !== undefined ? ` (${fmt(100 * x.serverCpuWait, 0)}%)` : ""}` : "–";
      }),
    ]);
    s4md = [
      `### 4. Fan-out`,
      "",
      `One JSON stream; the subscribers connect first (from the tail offset, spread over generator processes of at most ${fmt(P.s4.perProcess)} subscribers each), ` +
        `then a writer process appends ${P.s4.rate} messages/s for ${P.s4.durationSec} s, each carrying its send time; a subscriber records now − send time for every ` +
        `message it receives (so the figure includes the durable append itself). Appends still unanswered ${P.s4.graceSec} s after the schedule ends are abandoned, ` +
        `and the subscribers are read once every acknowledged message has been delivered, or deliveries have stalled for ${fmt(P.s4.drainMs)} ms, or ${P.s4.graceSec} s have passed: a ⚠ marks cells where not every scheduled append was acknowledged or not every acknowledged one was delivered (latency figures then cover the delivered messages only). SSE subscribers parse \`event: data\` / \`event: control\` frames; long-poll subscribers loop ` +
        `\`GET ?offset=<o>&live=long-poll\` following \`Stream-Next-Offset\`. Cells: p50 / p99 / max delivery latency in ms. Ratios: Rill SQLite p99 ÷ reference p99 (lower is better); ` +
        `where more than 1% of the deliveries never happened, that server's p99 counts as at least the grace (or drain) period, and the ratio is shown as a bound (≤ / ≥).`,
      "",
      table(["subscribers", ...names.map(label), "Rill SQLite ÷ ref memory (p99)", "Rill SQLite ÷ ref file (p99)"], rows),
      "",
      "CPU used during the write phase, in cores (server / all subscriber processes; the machine has " + r.machine.nproc + "), and in parentheses the share of the phase the server's main thread was runnable but waiting for a CPU (from /proc/<pid>/schedstat: high values mean the server was starved by the generators or other work):",
      "",
      table(["subscribers", ...names.map(label)], cpuRows),
    ];
  }

  // Scenario 5
  let s5md = [];
  if (r.s5) {
    const get = (s) => r.s5.find((x) => x.server === s);
    const metric = (title, pick, digits = 0) => [title, ...names.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-memory") ?? {}))), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-file") ?? {})))];
    const rows = [
      metric("baseline RSS (MB)", (x) => x.baseRss / 1e6, 1),
      metric(`RSS with ${fmt(P.s5.idleStreams)} idle streams (MB)`, (x) => x.streamsRss / 1e6, 1),
      metric(`per idle stream, marginal (bytes of RSS, ${fmt(P.s5.idleStreams / 2)} → ${fmt(P.s5.idleStreams)} streams)`, (x) => x.perStreamBytes),
      metric("per idle stream, marginal (bytes of JS heap)", (x) => x.perStreamHeapBytes),
      metric("per idle stream, over the fresh baseline (bytes of RSS; one-off costs included)", (x) => x.perStreamFromBaseBytes ?? x.perStreamBytes),
      metric("stream creation (streams/s, 32 in flight)", (x) => x.createPerSec),
      metric(`RSS with ${fmt(P.s5.idleSubscribers)} idle SSE subscribers (MB)`, (x) => x.subsRss / 1e6, 1),
      metric(`per SSE subscriber, marginal (bytes of RSS, ${fmt(P.s5.idleSubscribers / 2)} → ${fmt(P.s5.idleSubscribers)} subscribers)`, (x) => x.perSubscriberBytes),
      metric("per SSE subscriber, marginal (bytes of JS heap)", (x) => x.perSubscriberHeapBytes),
      metric("per SSE subscriber, over the fresh baseline (bytes of RSS; one-off costs included)", (x) => x.perSubscriberFromBaseBytes ?? x.perSubscriberBytes),
    ];
    const perStream = get("rill-sqlite")?.perStreamBytes;
    const perSub = get("rill-sqlite")?.perSubscriberBytes;
    const known = (v) => v !== undefined && v !== null && !Number.isNaN(v);
    target("S5 per idle stream: Rill SQLite ≤ 1 KB of RSS", known(perStream) ? `${fmt(perStream)} B` : "–", known(perStream) ? perStream <= 1024 : null);
    target("S5 per idle SSE reader: Rill SQLite ≤ 8 KB of RSS", known(perSub) ? `${fmt(perSub)} B` : "–", known(perSub) ? perSub <= 8192 : null);
    s5md = [
      `### 5. Footprint`,
      "",
      `RSS (VmRSS from /proc) of the server process after two forced GCs (the launcher runs with \`--expose-gc\`). ` +
        `Idle streams: ${fmt(P.s5.idleStreams)} empty JSON streams created by PUT, 32 in flight, in two halves on one fresh server (the creation rate is measured there). ` +
        `Idle subscribers: ${fmt(P.s5.idleSubscribers)} SSE connections to one stream, in two halves on a second fresh server. ` +
        `The per-stream and per-subscriber figures are marginal: the memory added by the second half, divided by its size. ` +
        `A fresh server's first burst of work pays one-off costs that do not grow with N (V8 grows its young generation by up to ~30 MB, which a forced GC does not give back; code is compiled), ` +
        `which the first half absorbs; any young-generation change left between the two readings is taken out of the RSS slope. ` +
        `The figure over the fresh baseline (total growth ÷ N, one-off costs included; what earlier runs reported) is shown for comparison. ` +
        `Rill SQLite keeps up to 10,000 streams in its in-memory cache (more live on disk only), so all ${fmt(P.s5.idleStreams)} count as cached here. ` +
        `Ratios: Rill SQLite ÷ reference (lower is better).`,
      "",
      table(["metric", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 6
  let s6md = [];
  if (r.s6) {
    const get = (s) => r.s6.find((x) => x.server === s);
    const durable = names.filter((s) => SERVERS[s].durable);
    const metric = (title, pick, digits = 0) => [title, ...durable.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-file") ?? {})))];
    const rows = [
      metric("data on disk (MB)", (x) => x.onDiskBytes / 1e6, 1),
      metric("spawn → listening (ms)", (x) => x.readyMs),
      metric("of which Node boot + loading the server code (ms)", (x) => x.bootMs),
      metric("opening the store and listening (ms)", (x) => x.openMs),
      metric("spawn → first read answered (ms)", (x) => x.firstReadMs),
      metric("RSS after start (MB)", (x) => x.rssAfterStart / 1e6, 1),
    ];
    s6md = [
      `### 6. Restart`,
      "",
      `A data directory with ${fmt(P.s6.streams)} streams (created empty) plus ${fmt(P.s6.bulkBytes / 1e6)} MB in one octet-stream (4 MB appends) — ` +
        `issue 6 asks for 10 GB; this run uses ${fmt(P.s6.bulkBytes / 1e6)} MB to fit the run time and disk. The server is stopped gracefully, then started again on the same ` +
        `directory; "first read" is a full read of the last stream created. Memory modes have nothing to restart from and are not run. Ratio: Rill SQLite ÷ reference file (lower is better).`,
      "",
      table(["metric", ...durable.map(label), "Rill SQLite ÷ ref file"], rows),
    ];
  }

  const s7md = r.s7 ? postgresSection(r.s7, P.s7, target) : [];
  const targetsTable = table(["target (issue 13)", "measured", "status", "note"], targets);
  md.push("", "### Targets", "", targetsTable);
  for (const section of [s1md, s2md, s3md, s4md, s5md, s6md, s7md]) if (section.length) md.push("", ...section);
  const failures = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"].flatMap((key) =>
    (r[key] ?? []).filter((x) => x.error).map((x) => `- scenario ${key.slice(1)}, ${label(x.server)}${x.streams ? `, ${x.streams} stream(s)` : ""}${x.impl ? `, ${x.impl} client` : ""}${x.mode ? `, ${x.mode} ${x.subscribers} subs` : ""}: ${x.error}`),
  );
  if (failures.length) md.push("", "### Failed cells", "", ...failures);
  md.push("", "### Charts", "", "![Append throughput vs connections](append-throughput.svg)", "", "![Fan-out delivery latency vs subscribers](fanout-latency.svg)");
  md.push("", "### Limitations of this harness", "", ...limitations(r));

  // Charts
  const throughputSvg = lineChart({
    title: "Append throughput vs connections",
    subtitle: `single 256-byte JSON appends; solid: 1 stream, dashed: 1,000 streams${r.quick ? " (quick run)" : ""}`,
    xLabel: "concurrent connections",
    yLabel: "appends/s",
    log: true,
    xValues: P.s1.connections,
    series: (r.s1 ? ["ceiling", ...names] : []).flatMap((s) =>
      P.s1.streamCounts.map((streams) => ({
        name: `${label(s)}, ${streams} stream${streams > 1 ? "s" : ""}`,
        color: COLORS[s],
        dash: streams > 1 ? "6 4" : undefined,
        values: P.s1.connections.map((c) => r.s1.find((x) => x.server === s && x.streams === streams && x.connections === c)?.appendsPerSec ?? null),
      })),
    ),
  });
  const subsAxis = [...new Set(P.s4.points.map((p) => p.subscribers))].sort((a, b) => a - b);
  const fanoutSvg = lineChart({
    title: "Fan-out delivery latency (p99) vs subscribers",
    subtitle: `writer at ${P.s4.rate} msgs/s; p99 of the delivered messages; solid: SSE, dashed: long-poll${r.quick ? " (quick run)" : ""}`,
    xLabel: "subscribers on one stream",
    yLabel: "p99 delivery latency (ms)",
    log: true,
    xValues: subsAxis.map((n) => fmt(n)),
    series: (r.s4 ? names : []).flatMap((s) =>
      ["sse", "long-poll"]
        .filter((mode) => P.s4.points.some((p) => p.mode === mode))
        .map((mode) => ({
          name: `${label(s)}, ${mode}`,
          color: COLORS[s],
          dash: mode === "long-poll" ? "6 4" : undefined,
          values: subsAxis.map((n) => r.s4.find((x) => x.server === s && x.mode === mode && x.subscribers === n)?.latency?.p99 ?? null),
        })),
    ),
  });
  return { markdown: md.join("\n"), targetsTable, throughputSvg, fanoutSvg };
}
