/**
 * Access tokens for servers that require them. Every request the console
 * makes (the listing, HEAD, reads including SSE and long-poll, writes) goes
 * through `authFetch`, which adds `Authorization: Bearer <token>` once a
 * token is known. When the server answers 401 with `WWW-Authenticate: Bearer`
 * the user is asked for a token once (concurrent requests share the one
 * prompt), it is kept in this tab's sessionStorage, and the request is sent
 * again with it. A 403 is passed through: the caller shows it as
 * "insufficient scope".
 *
 * EventSource cannot send headers; the console reads SSE through
 * @rill/client, which uses fetch, so the header reaches live reads as well.
 */
import { el } from "./render.js";

const STORAGE_KEY = "rill-console-token";

let token: string | null = readStored();
let prompting: Promise<string | null> | null = null;
/** "prompt": a token was given because a request needed one; "user": set, changed or forgotten from the top bar. */
export type TokenChange = "prompt" | "user";
const listeners = new Set<(change: TokenChange) => void>();

function readStored(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function currentToken(): string | null {
  return token;
}

export function setToken(value: string | null, change: TokenChange = "user"): void {
  token = value === null || value.trim() === "" ? null : value.trim();
  try {
    if (token === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage may be unavailable (private modes): the token then lasts for this page only.
  }
  for (const listener of listeners) listener(change);
}

/** Called whenever the token is set, changed or forgotten. */
export function onTokenChange(listener: (change: TokenChange) => void): void {
  listeners.add(listener);
}

function withToken(init: RequestInit | undefined, value: string | null): RequestInit | undefined {
  if (value === null) return init;
  const headers = new Headers(init?.headers);
  headers.set("authorization", `Bearer ${value}`);
  return { ...init, headers };
}

function wantsBearer(response: Response): boolean {
  return response.status === 401 && /^\s*bearer\b/i.test(response.headers.get("www-authenticate") ?? "");
}

/** fetch with the tab's token; asks for one when the server says a bearer token is needed. */
export const authFetch: typeof fetch = async (input, init) => {
  let sent = token;
  let response = await fetch(input, withToken(init, sent));
  while (wantsBearer(response) && !init?.signal?.aborted) {
    // Another request may already have obtained a newer token: use it before asking.
    const known = token !== sent ? token : await askForToken(sent !== null);
    if (known === null) return response;
    await response.body?.cancel().catch(() => undefined);
    sent = known;
    response = await fetch(input, withToken(init, sent));
  }
  return response;
};

/** Shows the token dialog (once, however many requests wait for it); null when the user cancels. */
export function askForToken(rejected: boolean, change: TokenChange = "prompt"): Promise<string | null> {
  prompting ??= showDialog(rejected, change).finally(() => (prompting = null));
  return prompting;
}

function showDialog(rejected: boolean, change: TokenChange): Promise<string | null> {
  return new Promise((resolve) => {
    const input = el("input", {
      type: "password",
      name: "token",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "paste a JWT or an API token",
      "aria-label": "Access token",
    });
    const remember = el("p", { class: "muted small" }, "Kept in this tab only (sessionStorage) and sent as Authorization: Bearer on every request.");
    const note = rejected
      ? el("p", { class: "small error", "data-testid": "token-rejected" }, "The server did not accept that token (missing, expired or invalid).")
      : el("p", { class: "small" }, "This server needs an access token.");
    const cancel = el("button", { type: "button", class: "secondary" }, "Cancel");
    const dialog = el(
      "dialog",
      { class: "token-dialog", "data-testid": "token-dialog" },
      el(
        "form",
        { method: "dialog" },
        el("h2", {}, "Access token"),
        note,
        input,
        remember,
        el("div", { class: "dialog-actions" }, cancel, el("button", { type: "submit" }, "Use token")),
      ),
    );
    const finish = (value: string | null) => {
      dialog.close();
      dialog.remove();
      if (value !== null && value.trim() !== "") setToken(value, change);
      resolve(value === null || value.trim() === "" ? null : value.trim());
    };
    dialog.querySelector("form")!.addEventListener("submit", (event) => {
      event.preventDefault();
      finish(input.value);
    });
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** The top bar's token control: shows whether a token is in use, and changes or forgets it. */
export function tokenControl(): HTMLElement {
  const label = el("span", { class: "token-state", "data-testid": "token-state" });
  const change = el("button", { type: "button", class: "topbar-button" }, "Set token");
  const forget = el("button", { type: "button", class: "topbar-button", "data-testid": "forget-token" }, "Forget");
  const render = () => {
    label.textContent = token === null ? "" : "token in use";
    change.textContent = token === null ? "Set token" : "Change token";
    forget.hidden = token === null;
  };
  change.addEventListener("click", () => void askForToken(false, "user"));
  forget.addEventListener("click", () => setToken(null));
  onTokenChange(render);
  render();
  return el("span", { class: "token-control" }, label, change, forget);
}
