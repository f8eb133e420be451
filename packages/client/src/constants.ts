/**
 * Protocol names under the constant names the official client exports, so
 * code importing them keeps working. Values come from @rill/protocol (header
 * names in lower case; HTTP header names are case-insensitive).
 */
import { HEADER, QUERY } from "@rill/protocol";

export const STREAM_OFFSET_HEADER = HEADER.streamNextOffset;
export const STREAM_CURSOR_HEADER = HEADER.streamCursor;
export const STREAM_UP_TO_DATE_HEADER = HEADER.streamUpToDate;
export const STREAM_CLOSED_HEADER = HEADER.streamClosed;
export const STREAM_SEQ_HEADER = HEADER.streamSeq;
export const STREAM_TTL_HEADER = HEADER.streamTtl;
export const STREAM_EXPIRES_AT_HEADER = HEADER.streamExpiresAt;
export const STREAM_SSE_DATA_ENCODING_HEADER = HEADER.streamSseDataEncoding;
export const PRODUCER_ID_HEADER = HEADER.producerId;
export const PRODUCER_EPOCH_HEADER = HEADER.producerEpoch;
export const PRODUCER_SEQ_HEADER = HEADER.producerSeq;
export const PRODUCER_EXPECTED_SEQ_HEADER = HEADER.producerExpectedSeq;
export const PRODUCER_RECEIVED_SEQ_HEADER = HEADER.producerReceivedSeq;

export const OFFSET_QUERY_PARAM = QUERY.offset;
export const LIVE_QUERY_PARAM = QUERY.live;
export const CURSOR_QUERY_PARAM = QUERY.cursor;
export const DURABLE_STREAM_PROTOCOL_QUERY_PARAMS: readonly string[] = [QUERY.offset, QUERY.live, QUERY.cursor];

export const SSE_OFFSET_FIELD = "streamNextOffset";
export const SSE_CURSOR_FIELD = "streamCursor";
export const SSE_CLOSED_FIELD = "streamClosed";
/** Content types SSE carries as text; everything else arrives base64-encoded. */
export const SSE_COMPATIBLE_CONTENT_TYPES: readonly string[] = ["text/", "application/json"];
