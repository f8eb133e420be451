import { InvalidArgumentError } from "commander";

/** Parses "1500", "1500ms", "20s", "2m" into milliseconds (a bare number is milliseconds). */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new InvalidArgumentError(`not a duration: "${text}" (try 1500ms, 20s or 2m)`);
  const value = Number(match[1]);
  const unit = (match[2] ?? "ms").toLowerCase();
  const factor = unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : unit === "s" ? 1000 : 1;
  return Math.round(value * factor);
}

/** Parses "1048576", "512KiB", "64MiB", "1GB" into bytes (a bare number is bytes). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(text);
  if (!match) throw new InvalidArgumentError(`not a size: "${text}" (try 1048576, 512KiB or 64MiB)`);
  const unit = (match[2] ?? "b").toLowerCase();
  const factors: Record<string, number> = {
    b: 1,
    kb: 1000,
    kib: 1024,
    mb: 1000 ** 2,
    mib: 1024 ** 2,
    gb: 1000 ** 3,
    gib: 1024 ** 3,
  };
  return Math.round(Number(match[1]) * factors[unit]!);
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`not a port number: "${text}"`);
  return port;
}

/** 1500 → "1.5s", 300000 → "5m", 250 → "250ms": for messages about waits. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))}m`;
  return `${Number((ms / 3_600_000).toFixed(1))}h`;
}

/** A whole number of at least 1. */
export function parseCount(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`not a positive whole number: "${text}"`);
  return count;
}
