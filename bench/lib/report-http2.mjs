// Report of scenarios 7 and 8 (issue 16): SSE fan-out over HTTP/2 vs HTTP/1.1,
// and compressed catch-up. Written to its own section of RESULTS.md, since these
// rows run against Rill only.
import { fmt, machineMarkdown, sig, table } from "./report.mjs";

const TRANSPORT = {
  h1: "HTTP/1.1, cleartext (a connection per reader)",
  "h1-tls": "HTTP/1.1 over TLS (a connection per reader)",
  h2: "HTTP/2 over TLS (100 readers per connection)",
};

export function http2Report(r, P) {
  const md = ["## HTTP/2 fan-out and compressed catch-up (issue 16; `npm run bench -- --only=8,9`)"];
  md.push("", machineMarkdown(r.machine, r.loadAtEnd));
  md.push(
    "",
    "**Measured on a busy machine** (2 cores shared with other engineers' builds and tests while this ran): " +
      "compare the rows with each other, not with runs on other days.",
  );
  if (r.s8) {
    md.push("", `### Scenario 8: SSE fan-out, ${fmt(P.s8.points[0].subscribers)} readers, a writer at ${P.s8.rate} msgs/s for ${P.s8.durationSec} s (Rill SQLite)`);
    md.push(
      "",
      table(
        ["transport", "delivery p50 (ms)", "p99 (ms)", "max (ms)", "delivered", "server RSS with readers connected", "server CPU (cores)"],
        r.s8.map((x) =>
          x.error
            ? [TRANSPORT[x.transport] ?? x.transport, `failed: ${x.error}`, "", "", "", "", ""]
            : [
                TRANSPORT[x.transport] ?? x.transport,
                sig(x.latency.p50),
                sig(x.latency.p99),
                sig(x.latency.max),
                `${fmt(x.deliveredPct, 1)}%`,
                `${fmt(x.rssConnected / 2 ** 20, 0)} MiB`,
                fmt(x.serverCores, 2),
              ],
        ),
      ),
    );
  }
  if (r.s9) {
    const first = r.s9.find((x) => !x.error);
    md.push(
      "",
      `### Scenario 9: catch-up of a ${fmt((first?.bytesPerReader ?? P.s9.streamBytes) / 1e6, 1)} MB JSON stream (telemetry-like records), ` +
        `${P.s9.readers} concurrent readers, compressed vs not (Rill SQLite, plain HTTP/1.1)`,
    );
    md.push(
      "",
      table(
        ["Accept-Encoding", "bytes on the wire per reader", "ratio", "reader MB/s (decoded, median)", "aggregate MB/s", "server CPU (s)"],
        r.s9.map((x) =>
          x.error
            ? [x.acceptEncoding ?? "(none)", `failed: ${x.error}`, "", "", "", ""]
            : [
                x.acceptEncoding ?? "(none)",
                `${fmt(x.wireBytesPerReader / 1e6, 1)} MB`,
                `${fmt((100 * x.wireBytesPerReader) / x.bytesPerReader, 1)}%`,
                fmt(x.readerMBpsMedian, 1),
                fmt(x.aggregateMBps, 1),
                fmt(x.serverCpuSeconds, 2),
              ],
        ),
      ),
    );
    md.push(
      "",
      "The whole range is one catch-up response here, larger than the 8 MiB a range may have to be compressed once and " +
        "cached, so each reader's response is compressed as it streams (server CPU counts all four); with `--read-chunk` " +
        "(CDN-sized chunks) each chunk is compressed once for all readers. Reader MB/s counts decoded JSON, including the " +
        "reader's own decompression, on loopback where bandwidth costs nothing; the gain is the bytes on the wire.",
    );
  }
  return md.join("\n");
}
