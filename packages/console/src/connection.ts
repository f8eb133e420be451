/**
 * Whether the console can reach the server, told from the requests it
 * actually makes: a response means connected; a failed request (network
 * error, or a 5xx from a proxy in front) means reconnecting, and after
 * OFFLINE_AFTER_MS without a success, or when the browser says it has no
 * network, offline. The client keeps retrying all along; this only reports.
 */
import { authFetch } from "./auth.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

const OFFLINE_AFTER_MS = 8000;

export class ConnectionWatch {
  state: ConnectionState = "connecting";
  /** When the current run of failures began (for "offline for 12s"). */
  failingSince: number | null = null;
  lastError = "";
  readonly #listeners = new Set<() => void>();
  readonly #ticker: ReturnType<typeof setInterval>;
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    this.#ticker = setInterval(() => this.#reassess(), 1000);
    const onNetwork = () => this.#reassess();
    window.addEventListener("online", onNetwork);
    window.addEventListener("offline", onNetwork);
    signal.addEventListener("abort", () => {
      clearInterval(this.#ticker);
      window.removeEventListener("online", onNetwork);
      window.removeEventListener("offline", onNetwork);
    });
  }

  /** The fetch to hand to @rill/client: authFetch, observed. */
  readonly fetch: typeof fetch = async (input, init) => {
    let response: Response;
    try {
      response = await authFetch(input, init);
    } catch (error) {
      if (!this.#signal.aborted && !init?.signal?.aborted) this.#failed(error instanceof Error ? error.message : String(error));
      throw error;
    }
    if (response.status >= 500) this.#failed(`HTTP ${response.status}`);
    else this.#succeeded();
    return response;
  };

  onChange(listener: () => void): void {
    this.#listeners.add(listener);
  }

  #succeeded(): void {
    this.failingSince = null;
    this.#set("connected");
  }

  #failed(reason: string): void {
    this.lastError = reason;
    this.failingSince ??= Date.now();
    this.#reassess();
  }

  #reassess(): void {
    if (this.failingSince === null) return;
    const offline = !navigator.onLine || Date.now() - this.failingSince >= OFFLINE_AFTER_MS;
    this.#set(offline ? "offline" : "reconnecting", true);
  }

  #set(state: ConnectionState, always = false): void {
    if (state === this.state && !always) return;
    this.state = state;
    for (const listener of this.#listeners) listener();
  }
}
