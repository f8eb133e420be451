import { formatBytes } from "@rill/protocol";
import cliProgress from "cli-progress";

/** Counts shown while appending: acknowledged messages and bytes, and their rate. */
export interface ProgressView {
  update(messages: number, bytes: number): void;
  stop(): void;
}

/**
 * Whether to draw a bar: `--progress` / `--no-progress` decide when given;
 * otherwise only when both stdout and stderr are terminals, so pipes, files
 * and CI logs never see one.
 */
export function wantProgress(flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}

/**
 * A progress bar on stderr. `totalBytes` is the input size when known; the
 * bar then shows a percentage and an ETA. `startBytes`/`startMessages` are
 * what an earlier, interrupted run already delivered; the rate counts only
 * this run's work.
 */
export function startProgress(options: {
  enabled: boolean;
  totalBytes: number | undefined;
  startBytes: number;
  startMessages: number;
}): ProgressView {
  if (!options.enabled) return { update() {}, stop() {} };
  const known = options.totalBytes !== undefined && options.totalBytes > 0;
  const format = known
    ? "{bar} {percentage}% | {messages} msgs | {done} / {size} | {rate} | ETA {eta_formatted}"
    : "{messages} msgs | {done} | {rate}";
  const bar = new cliProgress.SingleBar(
    {
      format,
      stream: process.stderr,
      // Forced on (--progress) without a terminal: print a line now and then instead of redrawing.
      noTTYOutput: true,
      notTTYSchedule: 1000,
      barsize: 24,
      etaBuffer: 50,
      hideCursor: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  const payload = (messages: number, bytes: number) => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const newBytes = bytes - options.startBytes;
    const newMessages = messages - options.startMessages;
    return {
      messages: messages.toLocaleString("en-US"),
      done: formatBytes(bytes),
      size: formatBytes(options.totalBytes ?? 0),
      rate: `${formatBytes(Math.round(newBytes / seconds))}/s, ${Math.round(newMessages / seconds).toLocaleString("en-US")} msg/s`,
    };
  };
  bar.start(known ? options.totalBytes! : 1, options.startBytes, payload(options.startMessages, options.startBytes));
  let last = { messages: options.startMessages, bytes: options.startBytes };
  return {
    update(messages, bytes) {
      last = { messages, bytes };
      bar.update(known ? bytes : 0, payload(messages, bytes));
    },
    stop() {
      bar.update(known ? last.bytes : 0, payload(last.messages, last.bytes));
      bar.stop();
    },
  };
}
