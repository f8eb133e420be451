export * from "./names.js";
export * from "./offset.js";
export * from "./content-type.js";
export * from "./cursor.js";
export * from "./json-mode.js";
export * from "./sse.js";
export * from "./bytes.js";
