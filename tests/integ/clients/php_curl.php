<?php
// PHP curl extension client (libcurl + OpenSSL).
// argv: PROVIDER STREAM [COUNT [PROMPT]]; prints one JSON line per request.
$provider = $argv[1] ?? "openai";
$stream = ($argv[2] ?? "0") === "1";
$count = intval($argv[3] ?? "1");
$prompt = $argv[4] ?? "say hello to the test";
if ($provider === "openai") {
    $url = "https://api.openai.com/v1/chat/completions";
    $headers = ["Authorization: Bearer sk-test-openai-SECRET-0123456789", "Content-Type: application/json"];
    $body = ["model" => "gpt-4o-mini", "messages" => [["role" => "user", "content" => $prompt]]];
} else {
    $url = "https://api.anthropic.com/v1/messages";
    $headers = ["x-api-key: sk-ant-test-SECRET-9876543210", "anthropic-version: 2023-06-01", "Content-Type: application/json"];
    $body = ["model" => "claude-3-5-haiku-latest", "max_tokens" => 64, "messages" => [["role" => "user", "content" => $prompt]]];
}
if ($stream) $body["stream"] = true;
$ch = curl_init();
for ($i = 0; $i < $count; $i++) {
    $hid = "";
    curl_setopt_array($ch, [
        CURLOPT_URL => $url, CURLOPT_POST => true, CURLOPT_POSTFIELDS => json_encode($body),
        CURLOPT_HTTPHEADER => $headers, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 30,
        CURLOPT_HEADERFUNCTION => function ($c, $h) use (&$hid) {
            if (stripos($h, "helicone-id:") === 0) $hid = trim(substr($h, 12));
            return strlen($h);
        },
    ]);
    $raw = curl_exec($ch);
    if ($raw === false) { fwrite(STDERR, "curl error: " . curl_error($ch) . "\n"); exit(1); }
    echo json_encode(["status" => curl_getinfo($ch, CURLINFO_HTTP_CODE), "raw" => $raw, "helicone_id" => $hid]), "\n";
}
curl_close($ch);
