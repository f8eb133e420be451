// A cheap SSE reader for the fan-out generators: one plain TCP socket per reader,
// a hand-written HTTP/1.1 response reader (connection-delimited or chunked bodies)
// and no SSE parsing beyond what the measurement needs: the messages' stamps and the
// newest `streamNextOffset`. Thousands of these fit in one process, so the generators
// take less of the CPU the server is measured on.
import { connect } from "node:net";
import { ChunkedCounter } from "./raw-http.mjs";

const HEADER_END = Buffer.from("\r\n\r\n");

/**
 * Reads SSE until `isStopped()`. `pathFor()` gives the request target (asked again on every
 * reconnection, so it resumes from the newest offset); `onText(text)` gets every complete run of
 * frames; `onConnected` is called once.
 */
export function rawSseReader({ host, port, pathFor, onText, onConnected, onError, isStopped, onReconnect }) {
  let connected = false;
  return new Promise((resolve) => {
    const open = () => {
      if (isStopped()) return resolve();
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      let headDone = false;
      let chunked = null;
      let buffer = "";
      socket.on("connect", () => socket.write(`GET ${pathFor()} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`));
      socket.on("data", (chunk) => {
        if (!headDone) {
          head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
          const end = head.indexOf(HEADER_END);
          if (end === -1) return;
          headDone = true;
          const headText = head.subarray(0, end).toString("latin1");
          const status = Number(headText.slice(9, 12));
          if (status !== 200) {
            onError(new Error(`SSE HTTP ${status}`));
            socket.destroy();
            return;
          }
          if (/\r\ntransfer-encoding:\s*chunked/i.test(headText)) chunked = new ChunkedCounter();
          if (!connected) {
            connected = true;
            onConnected();
          }
          chunk = head.subarray(end + HEADER_END.length);
          head = Buffer.alloc(0);
        }
        let content = "";
        if (chunked) chunked.count(chunk, (part) => (content += part.toString("latin1")));
        else content = chunk.toString("latin1");
        buffer = buffer.length === 0 ? content : buffer + content;
        const cut = buffer.lastIndexOf("\n\n");
        if (cut === -1) return;
        onText(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      });
      socket.on("error", (error) => {
        if (!isStopped()) onError(error);
      });
      socket.on("close", () => {
        if (!connected) {
          connected = true; // count it as an attempt so the ramp does not stall
          onConnected();
        }
        if (isStopped()) return resolve();
        onReconnect();
        setTimeout(open, 100);
      });
      readers.add(socket);
      socket.on("close", () => readers.delete(socket));
    };
    open();
  });
}

const readers = new Set();

/** Closes every raw reader's socket (the generator is done). */
export function closeRawReaders() {
  for (const socket of readers) socket.destroy();
}
