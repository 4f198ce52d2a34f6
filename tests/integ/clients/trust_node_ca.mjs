// trust_node_ca.mjs — a Node app that trusts only the CA it is given (https
// `ca:` option, so NODE_EXTRA_CA_CERTS does not apply) and retries once on a
// failed connection, as SDKs do. For test_trust.py (recovery from a lost bet).
//   node trust_node_ca.mjs URL CA PROMPT
// Prints one line per attempt: "attempt N error CODE" or "attempt N STATUS TEXT".
import fs from "node:fs";
import https from "node:https";

const [url, caFile, prompt] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] });

function once() {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: "POST", ca, agent: false,
      headers: { "Content-Type": "application/json", "Authorization": "Bearer sk-test-openai-SECRET-0123456789" },
    }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { data += d; });
      res.on("end", () => resolve([res.statusCode, data]));
    });
    req.on("error", reject);
    req.end(body);
  });
}

for (let attempt = 1; attempt <= 2; attempt++) {
  try {
    const [status, data] = await once();
    console.log(`attempt ${attempt} ${status} ${JSON.parse(data).choices[0].message.content}`);
    process.exit(0);
  } catch (e) {
    console.log(`attempt ${attempt} error ${e.code || e.message}`);
  }
}
process.exit(1);
