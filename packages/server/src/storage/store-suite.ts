import { afterEach, beforeEach, describe } from "vitest";
import { appendTests } from "./store-append-suite.js";
import { concurrencyTests } from "./store-concurrency-suite.js";
import { createTests } from "./store-create-suite.js";
import { deleteTests } from "./store-delete-suite.js";
import { durabilityTests } from "./store-durability-suite.js";
import { expiryTests } from "./store-expiry-suite.js";
import { listTests, readRangeTests } from "./store-read-suite.js";
import { retentionTests } from "./store-retention-suite.js";
import type { Store } from "./store.js";
import { contents } from "./test-support.js";

/**
 * The behaviour every Store must share, tested through the interface only.
 * Each store's test file calls this with a factory; stores that persist pass
 * `reopen`, which closes the store and opens a new one on the same data.
 * The tests themselves are grouped by topic in the store-*-suite.ts files.
 */
export interface StoreHarness {
  store: Store;
  /** Closes the current store and opens another over the same data. */
  reopen?: () => Promise<Store>;
  /** Closes whatever store is current and removes its data. */
  cleanup: () => Promise<void>;
}

/** What each topic's tests work with; `store` is the current test's store. */
export interface StoreSuite {
  readonly store: Store;
  readonly harness: StoreHarness;
  /** Reopens the store over the same data (persistent stores only); `store` is the new one after. */
  reopen(): Promise<Store>;
  /** Everything the stream itself stores, from `from` to its tail. */
  contents(path: string, from?: number): Promise<string>;
  tailOf(path: string): Promise<number | undefined>;
}

export function runStoreSuite(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`${name}: Store behaviour`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const suite: StoreSuite = {
      get store() {
        return store;
      },
      get harness() {
        return harness;
      },
      async reopen() {
        if (!harness.reopen) throw new Error("this store does not persist");
        store = await harness.reopen();
        return store;
      },
      contents: (path, from = 0) => contents(store, path, from),
      tailOf: async (path) => (await store.getStream(path))?.tail,
    };

    createTests(suite);
    appendTests(suite);
    readRangeTests(suite);
    expiryTests(suite);
    deleteTests(suite);
    listTests(suite);
    concurrencyTests(suite);
    durabilityTests(suite);
    retentionTests(suite);
  });
}
