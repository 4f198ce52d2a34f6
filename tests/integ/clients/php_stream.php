<?php
// PHP streams client: file_get_contents() with an http stream context (PHP's
// own HTTP/1.x code over its openssl stream wrapper), no curl.
// argv: PROVIDER STREAM [COUNT [PROMPT]]; prints one JSON line per request.
// The base URL is the provider's default unless OPENAI_BASE_URL /
// ANTHROPIC_BASE_URL say otherwise (as the providers' own SDKs allow).
// stderr: "COMPAT-PEER <sha256 of the server certificate>" per TLS request.
$provider = $argv[1] ?? "openai";
$stream = ($argv[2] ?? "0") === "1";
$count = intval($argv[3] ?? "1");
$prompt = $argv[4] ?? "say hello to the test";
if ($provider === "openai") {
    $url = rtrim(getenv("OPENAI_BASE_URL") ?: "https://api.openai.com/v1", "/") . "/chat/completions";
    $headers = ["Authorization: Bearer sk-test-openai-SECRET-0123456789", "Content-Type: application/json"];
    $body = ["model" => "gpt-4o-mini", "messages" => [["role" => "user", "content" => $prompt]]];
} else {
    $url = rtrim(getenv("ANTHROPIC_BASE_URL") ?: "https://api.anthropic.com", "/") . "/v1/messages";
    $headers = ["x-api-key: sk-ant-test-SECRET-9876543210", "anthropic-version: 2023-06-01", "Content-Type: application/json"];
    $body = ["model" => "claude-3-5-haiku-latest", "max_tokens" => 64, "messages" => [["role" => "user", "content" => $prompt]]];
}
if ($stream) $body["stream"] = true;
for ($i = 0; $i < $count; $i++) {
    $ctx = stream_context_create([
        "http" => ["method" => "POST", "header" => implode("\r\n", $headers), "content" => json_encode($body),
                   "ignore_errors" => true, "timeout" => 30, "protocol_version" => 1.1],
        "ssl" => ["capture_peer_cert" => true],
    ]);
    $fp = @fopen($url, "r", false, $ctx);
    if ($fp === false) { fwrite(STDERR, "request failed: " . (error_get_last()["message"] ?? "?") . "\n"); exit(1); }
    $raw = stream_get_contents($fp);
    $meta = stream_get_meta_data($fp);
    $opts = stream_context_get_options($fp);
    if (isset($opts["ssl"]["peer_certificate"]))
        fwrite(STDERR, "COMPAT-PEER " . openssl_x509_fingerprint($opts["ssl"]["peer_certificate"], "sha256") . "\n");
    fclose($fp);
    $status = 0; $hid = "";
    foreach ($meta["wrapper_data"] as $h) {
        if (preg_match('#^HTTP/\S+\s+(\d+)#', $h, $m)) $status = intval($m[1]);
        elseif (stripos($h, "helicone-id:") === 0) $hid = trim(substr($h, 12));
    }
    echo json_encode(["status" => $status, "raw" => $raw, "helicone_id" => $hid]), "\n";
}
