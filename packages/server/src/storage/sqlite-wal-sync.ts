import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, statSync } from "node:fs";

/**
 * Makes a SQLite database's committed transactions durable off the event
 * loop. The connection runs with `synchronous=NORMAL`, under which COMMIT
 * writes the transaction's frames to the write-ahead log without syncing it;
 * this syncs the log file afterwards, on libuv's thread pool, so the event
 * loop goes on serving requests during the disk's flush. A transaction is
 * acknowledged only once the sync that followed its COMMIT has completed,
 * which is the guarantee `synchronous=FULL` gives (FULL syncs the same file
 * at the same point, inside COMMIT, on the calling thread).
 *
 * Only the log needs syncing at commit: SQLite syncs the log before it
 * copies frames into the database file at a checkpoint, and the database
 * file after, under NORMAL as under FULL.
 */
export class WalSync {
  private fd: number;
  private inode: number;

  private constructor(private readonly walPath: string) {
    this.fd = openSync(walPath, "r");
    this.inode = fstatSync(this.fd).ino;
  }

  /**
   * Opens the log of the database at `databasePath`, or returns null when it
   * cannot (no log file yet): the caller then keeps `synchronous=FULL`.
   */
  static open(databasePath: string): WalSync | null {
    try {
      return new WalSync(`${databasePath}-wal`);
    } catch {
      return null;
    }
  }

  /** Syncs the log on the thread pool; resolves once everything committed so far is on disk. */
  flush(): Promise<void> {
    const fd = this.current();
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  /** Syncs the log on this thread (rounds that remove data: see SqliteStore). */
  flushNow(): void {
    fdatasyncSync(this.current());
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * The descriptor of the log file SQLite writes now. SQLite truncates the
   * log in place and only deletes it when the last connection closes, so this
   * is the file opened at start; should it ever have been replaced, the new
   * one is opened (syncing the old inode would promise nothing).
   */
  private current(): number {
    const now = statSync(this.walPath).ino;
    if (now !== this.inode) {
      const fd = openSync(this.walPath, "r");
      closeSync(this.fd);
      this.fd = fd;
      this.inode = fstatSync(fd).ino;
    }
    return this.fd;
  }
}
