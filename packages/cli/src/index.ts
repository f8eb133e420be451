export { buildProgram } from "./program.js";
export { parseDuration, parseSize, parsePort } from "./units.js";
