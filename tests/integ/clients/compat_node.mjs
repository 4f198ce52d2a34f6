// compat_node.mjs — an ordinary Node app for test_compat.py.
//
//   node compat_node.mjs fetch|openai|anthropic [PROMPT]
//
// fetch:  Node's built-in fetch (undici) POSTs a chat completion.
// openai: the `openai` npm package (tests/node/node_modules) does the same call.
// anthropic: the `@anthropic-ai/sdk` package makes a Messages call.
// Both use https://api.openai.com/v1 unless OPENAI_BASE_URL says otherwise (the
// openai package's own convention; observe-mode tests point it at the mock).
//
// stdout: one JSON line {status, raw, helicone_id, text} like the other clients.
// stderr: "COMPAT-PEER <sha256 of the server certificate>" for every TLS
// handshake (through tls.checkServerIdentity, which every Node TLS client
// calls), so the test can tell the provider's certificate from the gateway's.
import tls from "node:tls";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const origCheck = tls.checkServerIdentity;
tls.checkServerIdentity = (host, cert) => {
  if (cert && cert.fingerprint256)
    process.stderr.write("COMPAT-PEER " + cert.fingerprint256.replace(/:/g, "").toLowerCase() + "\n");
  return origCheck(host, cert);
};

const kind = process.argv[2] || "fetch";
const prompt = process.argv[3] || "say hello to the test";
const base = (process.env.OPENAI_BASE_URL || "https://api.openai.com/v1").replace(/\/$/, "");
const key = "sk-test-openai-SECRET-0123456789";
const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] };

function out(status, raw, hid, text) {
  process.stdout.write(JSON.stringify({ status, raw, helicone_id: hid || "", text }) + "\n");
}

if (kind === "fetch") {
  const r = await fetch(base + "/chat/completions", {
    method: "POST",
    headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const raw = await r.text();
  let text = "";
  try { text = JSON.parse(raw).choices[0].message.content; } catch (e) { /* reported as "" */ }
  out(r.status, raw, r.headers.get("helicone-id"), text);
} else if (kind === "openai") {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const require = createRequire(path.join(here, "..", "..", "node", "package.json"));
  const OpenAI = require("openai");
  const client = new OpenAI({ apiKey: key, baseURL: base, maxRetries: 0, timeout: 30000 });
  const { data, response } = await client.chat.completions.create(body).withResponse();
  out(response.status, JSON.stringify(data), response.headers.get("helicone-id"), data.choices[0].message.content);
} else if (kind === "anthropic") {
  // the @anthropic-ai/sdk package; https://api.anthropic.com unless ANTHROPIC_BASE_URL says otherwise
  const here = path.dirname(fileURLToPath(import.meta.url));
  const require = createRequire(path.join(here, "..", "..", "node", "package.json"));
  const mod = require("@anthropic-ai/sdk");
  const Anthropic = mod.default || mod;
  const client = new Anthropic({ apiKey: "sk-ant-test-SECRET-0123456789", maxRetries: 0, timeout: 30000 });
  const { data, response } = await client.messages.create({
    model: "claude-3-5-haiku-latest", max_tokens: 256, messages: [{ role: "user", content: prompt }],
  }).withResponse();
  out(response.status, JSON.stringify(data), response.headers.get("helicone-id"), data.content[0].text);
} else {
  process.stderr.write("usage: compat_node.mjs fetch|openai|anthropic [PROMPT]\n");
  process.exit(2);
}
