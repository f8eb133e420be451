// Is Rill's own client usable for the producer scenarios? (It is being written
// alongside this suite; until it exports IdempotentProducer the raw producer stands in.)
export async function rillClientAvailable() {
  try {
    const module = await import("@rill/client");
    return typeof module.IdempotentProducer === "function" && typeof module.DurableStream === "function";
  } catch {
    return false;
  }
}
