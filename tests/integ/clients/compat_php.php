<?php
// compat_php.php — run another PHP client of this directory unchanged, with
// its default origin swapped when COMPAT_ORIGIN is set (observe mode cannot
// route api.openai.com to the mock: the request must go to the mock by a
// name it has a certificate for — the equivalent of an /etc/hosts entry).
//   php compat_php.php CLIENT.php [client argv...]
$script = $argv[1];
if ($script[0] !== "/") $script = __DIR__ . "/" . $script;
array_splice($argv, 1, 1);
$argc = count($argv);
$_SERVER["argv"] = $argv;
$code = file_get_contents($script);
$origin = getenv("COMPAT_ORIGIN");
if ($origin) $code = str_replace(["https://api.openai.com", "https://api.anthropic.com"], $origin, $code);
eval("?>" . $code);
