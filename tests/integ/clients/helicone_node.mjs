// helicone_node.mjs — the tutorial's TypeScript snippet with the `openai` npm package.
//
//   node helicone_node.mjs MODEL plain|stream|tool|tool_stream
//
// new OpenAI({ baseURL: "https://ai-gateway.helicone.ai", apiKey: HELICONE_API_KEY }),
// then client.chat.completions.create({ model, messages, ... }) — the package
// from tests/node/node_modules.
// stdout: one JSON line {status, text, tool_calls, finish, usage, model}.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "node", "package.json"));
const OpenAI = require("openai");

const client = new OpenAI({ baseURL: "https://ai-gateway.helicone.ai", apiKey: process.env.HELICONE_API_KEY, maxRetries: 0 });
const [model, mode] = process.argv.slice(2);
const tools = [{ type: "function", function: { name: "get_weather", description: "Current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const req = { model, messages: [{ role: "system", content: "You are terse." },
                                { role: "user", content: "What is the weather in Paris?" }] };
if (mode.startsWith("tool")) Object.assign(req, { tools, tool_choice: "required" });
const stream = mode.endsWith("stream");
try {
  if (!stream) {
    const r = await client.chat.completions.create(req);
    const ch = r.choices[0];
    console.log(JSON.stringify({ status: 200, text: ch.message.content, tool_calls: ch.message.tool_calls || null,
                                 finish: ch.finish_reason, usage: r.usage, model: r.model }));
  } else {
    const s = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let text = "", finish = null, usage = null, model_ = null;
    const calls = [];
    for await (const c of s) {
      model_ = c.model || model_;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.delta.content || "";
        for (const tc of ch.delta.tool_calls || []) {
          calls[tc.index] ??= { id: null, type: "function", function: { name: "", arguments: "" } };
          if (tc.id) calls[tc.index].id = tc.id;
          calls[tc.index].function.name += tc.function?.name || "";
          calls[tc.index].function.arguments += tc.function?.arguments || "";
        }
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    console.log(JSON.stringify({ status: 200, text: text || null, tool_calls: calls.length ? calls : null,
                                 finish, usage, model: model_ }));
  }
} catch (e) {
  console.log(JSON.stringify({ status: e.status || 0, body: e.error || String(e) }));
}
