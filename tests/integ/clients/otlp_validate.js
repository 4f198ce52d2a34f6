// otlp_validate.js — check OTLP/JSON documents against the OpenTelemetry
// protocol's own schema: the protobufjs root generated from the
// opentelemetry-proto .proto files that npm's @opentelemetry/otlp-transformer
// ships (tests/node/package.json pins the version that has it).
//
// usage: node otlp_validate.js FILE...   each FILE holds one JSON line per
// document: {"kind": "traces"|"metrics", "body": "<the JSON text as sent>"}
//
// For each document: the OTLP/JSON mapping is undone (ids are hex in JSON,
// bytes in the proto), Message.fromObject builds the protobuf message,
// Message.verify must accept it, it must encode to protobuf and decode back,
// and toObject must give back every field of the input: a field the schema
// does not know (a misspelt key), a wrong type or a value the proto cannot
// hold shows up as a difference. Prints one JSON line per document:
// {"ok": bool, "kind", "errors": [...], "items": N}; exit 0 when every
// document is valid, 1 otherwise, 2 on misuse.
"use strict";
const fs = require("fs");
const path = require("path");

const NODE_DIR = path.join(__dirname, "..", "..", "node", "node_modules");
const root = require(path.join(NODE_DIR, "@opentelemetry", "otlp-transformer", "build", "src", "generated", "root"));
const P = root.opentelemetry.proto;
const TYPES = {
  traces: P.collector.trace.v1.ExportTraceServiceRequest,
  metrics: P.collector.metrics.v1.ExportMetricsServiceRequest,
};
const ID_KEYS = new Set(["traceId", "spanId", "parentSpanId"]);

// OTLP/JSON -> protobufjs object: hex ids become base64 bytes.
function toProto(v, key) {
  if (Array.isArray(v)) return v.map((x) => toProto(x));
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = toProto(v[k], k);
    return o;
  }
  if (ID_KEYS.has(key) && typeof v === "string") {
    if (!/^[0-9a-f]*$/.test(v) || v.length % 2) throw new Error(key + " is not lower-case hex: " + v);
    return Buffer.from(v, "hex").toString("base64");
  }
  return v;
}

function isDefault(v) {
  return v === 0 || v === "0" || v === "" || v === false || v === null ||
    (Array.isArray(v) && v.length === 0) || (v && typeof v === "object" && Object.keys(v).length === 0);
}

// Every field of `want` (the input) must be in `got` (the round trip), equal.
function compare(want, got, where, errors) {
  if (errors.length > 20) return;
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      if (!(want.length === 0 && got === undefined)) errors.push(where + ": array lost or resized");
      return;
    }
    want.forEach((w, i) => compare(w, got[i], where + "[" + i + "]", errors));
    return;
  }
  if (want && typeof want === "object") {
    for (const k of Object.keys(want)) {
      if (got === undefined || got === null || !(k in got)) {
        if (!isDefault(want[k])) errors.push(where + "." + k + ": not in the schema (dropped)");
        continue;
      }
      compare(want[k], got[k], where + "." + k, errors);
    }
    return;
  }
  if (typeof want === "number" || typeof got === "number") {
    if (Number(want) !== Number(got)) errors.push(where + ": " + JSON.stringify(want) + " became " + JSON.stringify(got));
    return;
  }
  if (want !== got) errors.push(where + ": " + JSON.stringify(want) + " became " + JSON.stringify(got));
}

function validate(kind, text) {
  const T = TYPES[kind];
  const errors = [];
  if (!T) return { ok: false, kind, errors: ["unknown kind " + kind], items: 0 };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { ok: false, kind, errors: ["not JSON: " + e.message], items: 0 };
  }
  let items = 0;
  try {
    const msg = T.fromObject(toProto(doc));
    const bad = T.verify(msg);
    if (bad) errors.push("verify: " + bad);
    const wire = T.encode(msg).finish();
    const back = T.toObject(T.decode(wire), { longs: String, enums: Number, bytes: String, defaults: false });
    // bytes back to hex for the comparison
    const hexify = (v, key) => {
      if (Array.isArray(v)) return v.map((x) => hexify(x));
      if (v && typeof v === "object") {
        const o = {};
        for (const k of Object.keys(v)) o[k] = hexify(v[k], k);
        return o;
      }
      return ID_KEYS.has(key) ? Buffer.from(v, "base64").toString("hex") : v;
    };
    compare(doc, hexify(back), kind, errors);
    if (kind === "traces")
      for (const rs of back.resourceSpans || []) for (const ss of rs.scopeSpans || []) items += (ss.spans || []).length;
    else
      for (const rm of back.resourceMetrics || []) for (const sm of rm.scopeMetrics || []) items += (sm.metrics || []).length;
  } catch (e) {
    errors.push("fromObject/encode: " + e.message);
  }
  return { ok: errors.length === 0, kind, errors, items };
}

if (process.argv.length < 3) {
  process.stderr.write("usage: node otlp_validate.js FILE...\n");
  process.exit(2);
}
let allOk = true;
for (const f of process.argv.slice(2)) {
  for (const line of fs.readFileSync(f, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const d = JSON.parse(line);
    const r = validate(d.kind, d.body);
    allOk = allOk && r.ok;
    process.stdout.write(JSON.stringify(r) + "\n");
  }
}
process.exit(allOk ? 0 : 1);
