# Ruby net/http client (OpenSSL through Ruby's openssl extension).
# argv: PROVIDER STREAM [COUNT [PROMPT]]; prints one JSON line per request.
require "json"
require "net/http"
require "uri"

provider = ARGV[0] || "openai"
stream = ARGV[1] == "1"
count = (ARGV[2] || "1").to_i
prompt = ARGV[3] || "say hello to the test"

if provider == "openai"
  uri = URI("https://api.openai.com/v1/chat/completions")
  headers = { "Authorization" => "Bearer sk-test-openai-SECRET-0123456789", "Content-Type" => "application/json" }
  body = { model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] }
else
  uri = URI("https://api.anthropic.com/v1/messages")
  headers = { "x-api-key" => "sk-ant-test-SECRET-9876543210", "anthropic-version" => "2023-06-01",
              "Content-Type" => "application/json" }
  body = { model: "claude-3-5-haiku-latest", max_tokens: 64, messages: [{ role: "user", content: prompt }] }
end
body[:stream] = true if stream

Net::HTTP.start(uri.host, uri.port, use_ssl: true) do |http|
  count.times do
    req = Net::HTTP::Post.new(uri, headers)
    req.body = JSON.generate(body)
    raw = +""
    res = http.request(req) { |r| r.read_body { |chunk| raw << chunk } }
    puts JSON.generate({ status: res.code.to_i, raw: raw, helicone_id: res["helicone-id"].to_s })
    STDOUT.flush
  end
end
