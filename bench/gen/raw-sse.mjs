// A cheap SSE reader for the fan-out generators: one plain TCP socket per reader,
// a hand-written HTTP/1.1 response reader (connection-delimited or chunked bodies)
// and no SSE parsing beyond what the measurement needs: the messages' stamps and the
// newest `streamNextOffset`. Thousands of these fit in one process, so the generators
// take less of the CPU the server is measured on.
import { connect } from "node:net";

const HEADER_END = "\r\n\r\n";

/** Turns the bytes of a chunked body into its content, across calls. */
class ChunkedDecoder {
  remaining = 0; // bytes of the current chunk still to come (+2 for its CRLF once the data is done)
  line = "";
  inTrailer = false;

  decode(text) {
    let out = "";
    let at = 0;
    while (at < text.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, text.length - at);
        // The last two bytes of a chunk's count are its CRLF, not content.
        const content = Math.max(0, Math.min(take, this.remaining - 2));
        out += text.slice(at, at + content);
        this.remaining -= take;
        at += take;
        continue;
      }
      const newline = text.indexOf("\n", at);
      if (newline === -1) {
        this.line += text.slice(at);
        break;
      }
      const sizeLine = (this.line + text.slice(at, newline)).trim();
      this.line = "";
      at = newline + 1;
      const size = parseInt(sizeLine, 16);
      if (Number.isNaN(size) || size === 0) continue; // the last chunk (or a trailer line)
      this.remaining = size + 2;
    }
    return out;
  }
}

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
      socket.setEncoding("latin1");
      let head = "";
      let headDone = false;
      let chunked = null;
      let buffer = "";
      socket.on("connect", () => socket.write(`GET ${pathFor()} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`));
      socket.on("data", (text) => {
        if (!headDone) {
          head += text;
          const end = head.indexOf(HEADER_END);
          if (end === -1) return;
          headDone = true;
          const status = Number(head.slice(9, 12));
          if (status !== 200) {
            onError(new Error(`SSE HTTP ${status}`));
            socket.destroy();
            return;
          }
          if (/\r\ntransfer-encoding:\s*chunked/i.test(head.slice(0, end))) chunked = new ChunkedDecoder();
          if (!connected) {
            connected = true;
            onConnected();
          }
          text = head.slice(end + HEADER_END.length);
          head = "";
        }
        const content = chunked ? chunked.decode(text) : text;
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
