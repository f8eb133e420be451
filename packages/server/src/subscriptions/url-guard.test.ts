import { describe, expect, it } from "vitest";
import { ProtocolError } from "../domain/errors.js";
import { checkWebhookUrl, isForbiddenAddress, resolveWebhookTarget, type Resolver } from "./url-guard.js";
import { errorStatus } from "../http/error-statuses.js";

const dev = { allowLocalhostHttp: true };
const strict = { allowLocalhostHttp: false };

function rejects(url: string, policy = dev): boolean {
  try {
    checkWebhookUrl(url, policy);
    return false;
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("WEBHOOK_URL_REJECTED");
    expect(errorStatus((error as ProtocolError))).toBe(400);
    return true;
  }
}

describe("webhook URL checks at creation", () => {
  it("accepts https to public hosts and plain http to this machine only", () => {
    for (const url of ["https://hooks.example.com/x", "https://93.184.216.34/h", "https://[2606:4700::1111]/h"]) {
      expect(rejects(url), url).toBe(false);
    }
    for (const url of ["http://localhost:3000/h", "http://127.0.0.1:9/h", "http://127.9.9.9/h", "http://[::1]:8080/h", "http://api.localhost/h"]) {
      expect(rejects(url), url).toBe(false);
      expect(rejects(url, strict), url).toBe(true);
    }
  });

  it("refuses plain http elsewhere, other schemes, credentials and junk", () => {
    for (const url of ["http://10.0.0.1/hook", "http://example.com/h", "ftp://example.com/h", "file:///etc/passwd", "https://user:pw@example.com/h", "not a url", "/relative"]) {
      expect(rejects(url), url).toBe(true);
    }
  });

  it("refuses private, loopback, link-local, metadata and reserved targets over https", () => {
    for (const url of [
      "https://10.1.2.3/h",
      "https://172.20.0.1/h",
      "https://192.168.1.1/h",
      "https://127.0.0.1/h",
      "https://169.254.169.254/latest/meta-data",
      "https://100.100.100.200/",
      "https://0.0.0.0/",
      "https://255.255.255.255/",
      "https://224.0.0.1/",
      "https://2130706433/", // 127.0.0.1 in decimal; the URL parser normalizes it
      "https://0x7f.1/",
      "https://[::1]/h",
      "https://[::ffff:10.0.0.1]/h",
      "https://[::ffff:7f00:1]/h",
      "https://[fd00:ec2::254]/",
      "https://[fe80::1]/h",
      "https://localhost/h",
      "https://a.localhost/h",
      "https://metadata.google.internal/computeMetadata/v1/",
    ]) {
      expect(rejects(url), url).toBe(true);
    }
  });

  it("classifies addresses", () => {
    expect(isForbiddenAddress("8.8.8.8")).toBe(false);
    expect(isForbiddenAddress("2001:4860:4860::8888")).toBe(false);
    expect(isForbiddenAddress("172.32.0.1")).toBe(false);
    expect(isForbiddenAddress("172.31.255.255")).toBe(true);
    expect(isForbiddenAddress("::ffff:192.168.0.1")).toBe(true);
    expect(isForbiddenAddress("64:ff9b::a00:1")).toBe(true);
    expect(isForbiddenAddress("not-an-ip")).toBe(true);
  });
});

describe("webhook targets at delivery", () => {
  const resolver =
    (table: Record<string, string[]>): Resolver =>
    async (host) =>
      (table[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("re-checks every resolved address", async () => {
    const dns = resolver({
      "hooks.example.com": ["93.184.216.34"],
      "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
      "meta.example.com": ["169.254.169.254"],
      "v6.example.com": ["fd12::1"],
      localhost: ["10.0.0.1"],
      "empty.example.com": [],
    });
    await expect(resolveWebhookTarget(new URL("https://hooks.example.com/h"), dev, dns)).resolves.toEqual([{ address: "93.184.216.34", family: 4 }]);
    for (const url of ["https://rebind.example.com/h", "https://meta.example.com/h", "https://v6.example.com/h", "http://localhost/h", "https://empty.example.com/h"]) {
      await expect(resolveWebhookTarget(new URL(url), dev, dns), url).rejects.toThrow();
    }
  });

  it("lets localhost over http reach loopback addresses only", async () => {
    const dns = resolver({ localhost: ["::1", "127.0.0.1"] });
    await expect(resolveWebhookTarget(new URL("http://localhost:9/h"), dev, dns)).resolves.toHaveLength(2);
    await expect(resolveWebhookTarget(new URL("http://127.0.0.1:9/h"), dev, dns)).resolves.toEqual([{ address: "127.0.0.1", family: 4 }]);
  });
});
