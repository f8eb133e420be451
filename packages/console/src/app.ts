/**
 * The Rill console: a list of streams (via Rill's listing extension), a form
 * to create one, and a live view of the selected stream. Routes live in the
 * URL fragment: `#/stream/<name>?offset=<offset>`.
 */
import { DurableStream } from "@rill/client";
import { encodeStreamName, formatBytes, type ListedStream, type ListedStreamPage } from "@rill/protocol";
import { authFetch, onTokenChange, tokenControl } from "./auth.js";
import { describe } from "./describe.js";
import { el, relativeTime } from "./render.js";
import { StreamView } from "./stream-view.js";

const LIST_LIMIT = 500;
const REFRESH_MS = 5000;

const streamsPath = (document.querySelector('meta[name="rill-streams-path"]')?.getAttribute("content") ?? "/v1/stream").replace(/\/+$/, "");
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const listElement = $<HTMLUListElement>("stream-list");
const listStatus = $<HTMLParagraphElement>("list-status");
const filter = $<HTMLInputElement>("filter");
const view = $<HTMLElement>("view");
const createForm = $<HTMLFormElement>("create-form");
const createStatus = $<HTMLParagraphElement>("create-status");
const emptyView = view.innerHTML;

/** Stream names are URL paths below the stream namespace; keep escapes, encode what a path cannot hold. */
function streamUrl(name: string): string {
  return `${location.origin}${streamsPath}/${encodeStreamName(name)}`;
}

function streamHash(name: string, offset?: string): string {
  return `#/stream/${encodeStreamName(name)}${offset ? `?offset=${encodeURIComponent(offset)}` : ""}`;
}

function parseRoute(): { name: string; offset: string } | null {
  const match = /^#\/stream\/([^?]+)(?:\?(.*))?$/.exec(location.hash);
  if (!match) return null;
  const params = new URLSearchParams(match[2] ?? "");
  return { name: match[1]!, offset: params.get("offset") ?? "-1" };
}

// ---- stream list ----

let listRequest = 0;
let selected: string | null = null;

async function loadList(): Promise<void> {
  const request = ++listRequest;
  const url = new URL(`${streamsPath}/__ds/streams`, location.origin);
  url.searchParams.set("prefix", filter.value.trim());
  url.searchParams.set("limit", String(LIST_LIMIT));
  try {
    const response = await authFetch(url, { cache: "no-store" });
    if (response.status === 403) throw new Error("insufficient scope: this token may not list streams here");
    if (response.status === 401) throw new Error("no access: the server needs a valid token to list streams");
    if (!response.ok) throw new Error(`listing failed: HTTP ${response.status}`);
    const page = (await response.json()) as ListedStreamPage;
    if (request !== listRequest) return;
    renderList(page.streams, page.next !== null);
  } catch (error) {
    if (request === listRequest) listStatus.textContent = describe(error);
  }
}

function renderList(streams: ListedStream[], more: boolean): void {
  listElement.replaceChildren(
    ...streams.map((stream) => {
      const badges = el("span", { class: "badges" });
      if (stream.closed) badges.append(el("span", { class: "badge closed" }, "closed"));
      if (stream.expiresAt) badges.append(el("span", { class: "badge expiry", title: stream.expiresAt }, relativeTime(stream.expiresAt)));
      else if (stream.ttlSeconds !== null) badges.append(el("span", { class: "badge expiry" }, `ttl ${stream.ttlSeconds}s`));
      return el(
        "li",
        { class: stream.path === selected ? "selected" : undefined },
        el(
          "a",
          { href: streamHash(stream.path), "data-stream": stream.path },
          el("span", { class: "name-row" }, el("span", { class: "name" }, stream.path), badges),
          el("span", { class: "muted small" }, `${formatBytes(stream.bytes)} · ${stream.contentType}`),
        ),
      );
    }),
  );
  const count = `${streams.length} stream${streams.length === 1 ? "" : "s"}`;
  listStatus.textContent = streams.length === 0 ? (filter.value ? "No stream starts with this." : "No streams yet.") : more ? `first ${count}; narrow with a prefix` : count;
}

let filterTimer: ReturnType<typeof setTimeout> | undefined;
filter.addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => void loadList(), 150);
});
setInterval(() => {
  if (document.visibilityState === "visible") void loadList();
}, REFRESH_MS);

// ---- create ----

let createNoteTimer: ReturnType<typeof setTimeout> | undefined;

/** A note under the form; success notes clear themselves after a few seconds. */
function say(text: string, error = false): void {
  clearTimeout(createNoteTimer);
  createStatus.textContent = text;
  createStatus.className = error ? "small error" : "muted small";
  if (!error && text !== "creating…") createNoteTimer = setTimeout(() => (createStatus.textContent = ""), 4000);
}

createForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void (async () => {
    const data = new FormData(createForm);
    const name = String(data.get("name") ?? "").trim().replace(/^\/+/, "");
    const contentType = String(data.get("contentType"));
    const ttl = String(data.get("ttl") ?? "").trim();
    if (!name) return;
    say("creating…");
    try {
      await DurableStream.create({ url: streamUrl(name), contentType, ttlSeconds: ttl ? Number(ttl) : undefined, fetch: authFetch });
      say(`created ${name}`);
      createForm.reset();
      await loadList();
      location.hash = streamHash(name);
    } catch (error) {
      say(describe(error), true);
    }
  })();
});

// ---- stream view ----

let current: StreamView | null = null;
let changeTimer: ReturnType<typeof setTimeout> | undefined;

function route(): void {
  current?.dispose();
  current = null;
  const target = parseRoute();
  selected = target?.name ?? null;
  for (const item of listElement.querySelectorAll("li")) {
    item.classList.toggle("selected", item.querySelector("a")?.getAttribute("data-stream") === selected);
  }
  if (!target) {
    view.innerHTML = emptyView;
    document.title = "Rill console";
    return;
  }
  document.title = `${target.name} · Rill console`;
  current = new StreamView(target.name, target.offset, {
    streamUrl,
    streamHash,
    streamsPath,
    offerCreate: (name) => {
      (createForm.elements.namedItem("name") as HTMLInputElement).value = name;
      (createForm.elements.namedItem("name") as HTMLInputElement).focus();
    },
    changed: () => {
      // Sizes in the list follow the view's stream, at most about once a second (a busy stream must not postpone it forever).
      if (changeTimer !== undefined) return;
      changeTimer = setTimeout(() => {
        changeTimer = undefined;
        void loadList();
      }, 800);
    },
    home: () => {
      location.hash = "#/";
    },
  });
  view.replaceChildren(current.element);
  void current.start();
}

window.addEventListener("hashchange", route);
// A token set, changed or forgotten from the top bar: start over with it (a prompt answered for a request needs nothing).
onTokenChange((change) => {
  if (change !== "user") return;
  route();
  void loadList();
});
$<HTMLElement>("token-slot").replaceChildren(tokenControl());
$<HTMLElement>("server-origin").textContent = `${location.host}${streamsPath}`;
route();
void loadList();
