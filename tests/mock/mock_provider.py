#!/usr/bin/python3
"""mock_provider.py — a local, deterministic double of the LLM provider HTTP APIs.

Every hcshim integration test routes api.openai.com, api.anthropic.com,
generativelanguage.googleapis.com, ... to an instance of this mock on the
loopback interface, so no test ever reaches the internet. The mock speaks the
providers' wire formats, plain and streamed, over HTTP and HTTPS, closely enough
that the gateway's parsers and usage extractors run on the bytes the real
services send; and it lets a test script failures (error statuses, broken
connections, slow bodies).

As a module (tests put tests/mock on sys.path):

    from mock_provider import MockProvider
    m = MockProvider(tls=True, certfile=pki["cert"], keyfile=pki["key"]).start()
    ... m.url, m.requests, m.script([...]), m.configure(...), m.reset() ...
    m.stop()

As a program (`make demo`, benchmarks, tests driving it from another process):

    /usr/bin/python3 tests/mock/mock_provider.py --http-port 0 --portfile F

README.md beside this file documents the endpoints, the token rule tests compute
expected numbers from, scripting, faults and the control API.

Wire formats follow the providers' public API references:
  OpenAI     https://platform.openai.com/docs/api-reference (chat, chat streaming and
             stream_options.include_usage, responses and its streaming events,
             embeddings, completions, models, errors, rate-limit headers)
  Anthropic  https://docs.anthropic.com/en/api/messages, .../messages-streaming,
             .../errors, .../rate-limits, .../prompt-caching
  Gemini     https://ai.google.dev/api/generate-content (generateContent,
             streamGenerateContent, UsageMetadata), https://ai.google.dev/gemini-api/docs/troubleshooting
  Ollama     https://github.com/ollama/ollama/blob/main/docs/api.md (/api/chat, /api/generate)

DESIGN
  Threads: one accept thread per listening socket and one thread per connection
  (HTTP/1.1 keep-alive: a connection's requests are answered one after another).
  stop() shuts the listener and every live connection down, which wakes threads
  blocked in accept() or recv(); threads waiting out a configured delay or a
  "hang" fault wait on the stop event, so they wake too; then it joins them all.
  State: everything a test observes or changes (recorded requests, scripts,
  configuration, counters, the prompt-cache model) lives in one _State guarded by
  one lock, held only for bookkeeping, never during I/O. Two MockProviders may
  share a _State (the program's HTTP and HTTPS ports).
  Determinism: a body depends only on the request and on the mock's answer
  counter (reset() rewinds it): ids are hashes of the canonical request (minus
  stream_options) and the counter; "created" times are the instance's start
  time. Only Date headers and rate-limit reset times follow the clock.
  Speed: the per-request path does no sleeping unless configured, sets
  TCP_NODELAY, and writes a plain answer (head and body) with one send; a stream
  with no chunk delay also goes out in one send, one HTTP chunk per event.
  Failure: a client that goes away (closes or resets mid-stream) ends its
  connection thread quietly; nothing a client sends can stop the mock.
"""
import argparse
import base64
import collections
import email.utils
import gzip
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import zlib

try:
    import brotli  # Debian python3-brotli; without it "br" is never chosen
except ImportError:
    brotli = None

# --------------------------------------------------------------------------------------
# Configuration, script and fault vocabulary
# --------------------------------------------------------------------------------------

DEFAULTS = {
    "chunk_delay_ms": 0,       # pause before each stream event after the first
    "latency_ms": 0,           # pause before the response head
    "ratelimit_headers": True,  # send x-ratelimit-* / anthropic-ratelimit-*
    "compress": True,          # honour Accept-Encoding for non-streamed JSON
    "cached_tokens": 0,        # report N prompt tokens as cached
    "reasoning_tokens": 0,     # N reasoning tokens for reasoning-style models
    "reply_words": 12,         # words in a generated answer
}

FAULTS = frozenset(("reset_mid_stream", "truncate_chunked", "garbage", "http09", "hang",
                    "close_before_response", "slow_body"))
SCRIPT_KEYS = frozenset(("status", "headers", "body", "fault", "after_chunks",
                         "duration_ms", "pieces"))
MATCH_KEYS = frozenset(("model", "path", "method"))

MAX_BODY = 64 << 20           # larger request bodies get 413
MAX_HEADERS = 200
PAD_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet")
EPOCH_DATE = "2025-01-01"     # the date suffix given to undated model names

RATE_LIMITS = {               # (requests, tokens) per window, as a paid tier reports them
    "openai": (10000, 2000000),
    "anthropic": (4000, 400000),
}

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized",
            402: "Payment Required", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
            422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 529: "Site Overloaded"}


def _validate_config(kw):
    """Check configure() arguments; raise ValueError naming the first bad one."""
    for k, v in kw.items():
        if k not in DEFAULTS:
            raise ValueError("unknown configuration key %r" % k)
        if isinstance(DEFAULTS[k], bool):
            if not isinstance(v, bool):
                raise ValueError("%s must be true or false" % k)
        elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError("%s must be a non-negative integer" % k)
    if kw.get("reply_words", 1) < 1:
        raise ValueError("reply_words must be at least 1")


def _validate_script(responses, match):
    """Check a script() call; raise ValueError naming the first bad entry or key."""
    if not isinstance(responses, list):
        raise ValueError("responses must be a list")
    for i, e in enumerate(responses):
        if not isinstance(e, dict):
            raise ValueError("response %d is not an object" % i)
        bad = set(e) - SCRIPT_KEYS
        if bad:
            raise ValueError("response %d: unknown keys %s" % (i, sorted(bad)))
        if "fault" in e and e["fault"] not in FAULTS:
            raise ValueError("response %d: unknown fault %r" % (i, e["fault"]))
        if not isinstance(e.get("status", 200), int):
            raise ValueError("response %d: status must be an integer" % i)
        if not isinstance(e.get("headers", {}), dict):
            raise ValueError("response %d: headers must be an object" % i)
    if match is not None:
        if not isinstance(match, dict) or set(match) - MATCH_KEYS:
            raise ValueError("match must be an object with keys among %s" % sorted(MATCH_KEYS))


# --------------------------------------------------------------------------------------
# The token rule and the generated answer
# --------------------------------------------------------------------------------------

def text_of(content):
    """Plain text of a message content as the token rule counts it.

    A string is itself; a list is its parts' texts joined by spaces; a part (dict)
    contributes its "text" string, else its "parts" (Gemini) or "content" (tool
    results), recursively. Images, audio and other non-text parts count nothing.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text_of(p) for p in content)
    if isinstance(content, dict):
        t = content.get("text")
        if isinstance(t, str):
            return t
        if "parts" in content:
            return text_of(content["parts"])
        return text_of(content.get("content"))
    return ""


def words(text):
    """Number of whitespace-separated words: the mock's notion of a token."""
    return len(text.split())


def prompt_tokens(units):
    """Prompt tokens of a request: words of every message unit + 4 per unit."""
    return sum(words(u) + 4 for u in units)


def _message_units(messages, system=None):
    """(units, last user text) of a chat-style message list and optional system prompt.

    Each message is one unit; a system prompt given apart (Anthropic's "system",
    Gemini's systemInstruction, Responses' "instructions") is one more unit, first.
    The last user text falls back to the last unit when no message has role user.
    """
    units, last = [], None
    if system is not None:
        units.append(text_of(system))
    for msg in messages if isinstance(messages, list) else ():
        if isinstance(msg, dict):
            t = text_of(msg.get("content", msg.get("parts")))
            units.append(t)
            if msg.get("role", "user") == "user":
                last = t
        elif isinstance(msg, str):
            units.append(msg)
            last = msg
    return units, (last if last is not None else (units[-1] if units else ""))


_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")


def dated_model(model):
    """The model name a provider answers with: the request's name with a date suffix
    if it has none ("-2025-01-01" OpenAI-style, "-20250101" for claude-*, whose
    "-latest" aliases are replaced by the date), so dated-name matching is exercised."""
    if _DATED.search(model):
        return model
    if model.startswith("claude-"):
        return (model[:-7] if model.endswith("-latest") else model) + "-" + EPOCH_DATE.replace("-", "")
    return model + "-" + EPOCH_DATE


_REASONING_OPENAI = re.compile(r"^(?:[\w.-]+/)?(?:o\d|gpt-5)")
_REASONING_GEMINI = re.compile(r"^gemini-(?:2\.5|[3-9])")


class _Answer:
    """The generated answer to one request.

    n          the answer number (1-based since the last reset)
    words      the visible reply words: "Mock answer <n> to: <words of the last user
               text>", cut or padded (lorem ipsum...) to reply_words, and cut to the
               request's output limit if that is smaller
    truncated  the output limit cut the reply
    prompt     prompt tokens (the token rule)
    reasoning  reasoning tokens (configured N for reasoning-style models, else 0)
    output     len(words) + reasoning
    cached     configured cached_tokens, at most prompt
    """
    __slots__ = ("n", "words", "truncated", "prompt", "reasoning", "output", "cached")

    def __init__(self, n, cfg, prompt, last_user, limit, reasoning_model):
        self.n = n
        w = ["Mock", "answer", str(n), "to:"] + last_user.split()
        count = cfg["reply_words"]
        w = w[:count] + [PAD_WORDS[i % len(PAD_WORDS)] for i in range(count - len(w))]
        self.truncated = isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(w)
        self.words = w[:limit] if self.truncated else w
        self.prompt = prompt
        self.reasoning = cfg["reasoning_tokens"] if reasoning_model else 0
        self.output = len(self.words) + self.reasoning
        self.cached = min(cfg["cached_tokens"], prompt)

    @property
    def text(self):
        return " ".join(self.words)

    @property
    def deltas(self):
        """The reply cut into stream deltas, one per word: "Mock", " answer", ..."""
        return [w if i == 0 else " " + w for i, w in enumerate(self.words)]


# --------------------------------------------------------------------------------------
# Requests and replies
# --------------------------------------------------------------------------------------

class _Request:
    """One parsed HTTP request. headers: lower-case name -> value (repeats joined by ", ")."""
    __slots__ = ("method", "target", "path", "query", "version", "headers", "body", "json",
                 "conn", "time")

    def record(self):
        """The dict a test sees in MockProvider.requests."""
        return {"method": self.method, "path": self.path, "query": self.query,
                "headers": dict(self.headers), "body": self.body.decode("utf-8", "replace"),
                "json": self.json, "time": self.time, "conn": self.conn}

    def param(self, name):
        """First value of a query-string parameter, or None."""
        v = urllib.parse.parse_qs(self.query).get(name)
        return v[0] if v else None


class _Reply:
    """An HTTP answer before framing: status, headers and either a body or stream events.

    events is a list of byte strings, each sent as one HTTP chunk; compressible marks
    a non-streamed JSON body that Accept-Encoding may compress; tokens, (input,
    output), feeds the rate-limit counters.
    """
    __slots__ = ("status", "headers", "body", "events", "compressible", "tokens")

    def __init__(self, status, ctype, body=None, events=None, compressible=False, tokens=(0, 0)):
        self.status = status
        self.headers = [("Content-Type", ctype)]
        self.body = body
        self.events = events
        self.compressible = compressible
        self.tokens = tokens

    def set_header(self, name, value):
        """Replace the header `name` (case-insensitive) or append it."""
        low = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != low]
        self.headers.append((name, value))


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _compact(obj):
    """JSON as the providers stream it: no spaces, UTF-8. (One shared encoder: building
    one per call was the biggest cost of a streamed answer.)"""
    return _COMPACT(obj).encode()


def _pretty(obj, indent=2):
    """JSON as OpenAI and Google send non-streamed bodies: indented."""
    return json.dumps(obj, indent=indent, ensure_ascii=False).encode()


def _json(status, obj, pretty=None, ctype="application/json", tokens=(0, 0)):
    """A non-streamed JSON reply; pretty=None for compact, else the indent width."""
    body = _compact(obj) if pretty is None else _pretty(obj, pretty)
    return _Reply(status, ctype, body=body, compressible=True, tokens=tokens)


def _stream(ctype, events, tokens):
    return _Reply(200, ctype, events=events, tokens=tokens)


class _Ids:
    """Deterministic identifiers for one answer, from the canonical request and n.

    stream_options is left out of the canonical form so that asking for
    include_usage does not change ids (the include_usage byte-equivalence property).
    """
    _B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    def __init__(self, req, n):
        canon = req.json
        if isinstance(canon, dict) and "stream_options" in canon:
            canon = {k: v for k, v in canon.items() if k != "stream_options"}
        text = "%s\n%s\n%d" % (req.path, json.dumps(canon, sort_keys=True), n)
        self.seed = hashlib.sha256(text.encode()).digest()

    def digest(self, salt):
        return hashlib.sha256(self.seed + salt.encode()).digest()

    def b62(self, salt, n):
        x, out = int.from_bytes(self.digest(salt), "big"), []
        for _ in range(n):
            x, r = divmod(x, 62)
            out.append(self._B62[r])
        return "".join(out)

    def hex(self, salt, n):
        return self.digest(salt).hex()[:n]


def _fingerprint(model):
    """system_fingerprint: fixed per model, as a backend configuration is."""
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


# --------------------------------------------------------------------------------------
# Error bodies, in each provider's shape
# --------------------------------------------------------------------------------------

_OPENAI_ERR = {400: "invalid_request_error", 401: "invalid_request_error",
               403: "invalid_request_error", 404: "invalid_request_error",
               429: "requests", 500: "server_error", 502: "server_error",
               503: "server_error", 504: "server_error"}
_ANTHROPIC_ERR = {400: "invalid_request_error", 401: "authentication_error",
                  402: "billing_error", 403: "permission_error", 404: "not_found_error",
                  413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                  504: "timeout_error", 529: "overloaded_error"}
_GEMINI_ERR = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
               404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
               503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def error_reply(kind, status, message=None):
    """An error answer in the shape provider `kind` uses (openai, anthropic, gemini, ollama).

    OpenAI: {"error":{"message","type","param","code"}} indented by 4;
    Anthropic: {"type":"error","error":{"type","message"},"request_id"};
    Gemini: {"error":{"code","message","status"}} indented by 2; Ollama: {"error": "..."}.
    """
    message = message or "%s (mock error %d)" % (_REASONS.get(status, "Error"), status)
    if kind == "anthropic":
        return _json(status, {"type": "error",
                              "error": {"type": _ANTHROPIC_ERR.get(status, "api_error"),
                                        "message": message},
                              "request_id": "req_" + os.urandom(12).hex()})
    if kind == "gemini":
        return _json(status, {"error": {"code": status, "message": message,
                                        "status": _GEMINI_ERR.get(status, "UNKNOWN")}},
                     pretty=2, ctype="application/json; charset=UTF-8")
    if kind == "ollama":
        return _json(status, {"error": message}, ctype="application/json; charset=utf-8")
    return _json(status, {"error": {"message": message,
                                    "type": _OPENAI_ERR.get(status, "server_error"),
                                    "param": None,
                                    "code": "rate_limit_exceeded" if status == 429 else None}},
                 pretty=4)


# --------------------------------------------------------------------------------------
# OpenAI and OpenAI-compatible APIs
# --------------------------------------------------------------------------------------

_SSE = "text/event-stream; charset=utf-8"


def _openai_auth(req):
    """401 in OpenAI's shape unless the request has "Authorization: Bearer <key>"."""
    auth = req.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return None
    return error_reply("openai", 401, "You didn't provide an API key. Provide it in an "
                       "Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).")


def _openai_body(req):
    """(body, None) for an authorized request whose body is a JSON object with a string
    model; else (None, the 401 or 400 reply)."""
    err = _openai_auth(req)
    if err:
        return None, err
    body = req.json
    if not isinstance(body, dict):
        return None, error_reply("openai", 400, "We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str):
        return None, error_reply("openai", 400, "you must provide a model parameter")
    return body, None


def _openai_usage(ans):
    """Chat Completions usage object."""
    return {"prompt_tokens": ans.prompt, "completion_tokens": ans.output,
            "total_tokens": ans.prompt + ans.output,
            "prompt_tokens_details": {"cached_tokens": ans.cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": ans.reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def _include_usage(body):
    so = body.get("stream_options")
    return isinstance(so, dict) and so.get("include_usage") is True


def _openai_sse(head, choices_list, ans, include_usage):
    """data: events of a chunked OpenAI stream (chat or legacy), then [DONE].

    With include_usage every chunk ends with "usage":null and a last chunk with
    empty choices carries the usage; "usage" is always the last key, so removing
    ',"usage":null' and the usage chunk yields the stream without include_usage.
    """
    events = []
    for choices in choices_list:
        chunk = dict(head, choices=choices)
        if include_usage:
            chunk["usage"] = None
        events.append(b"data: " + _compact(chunk) + b"\n\n")
    if include_usage:
        events.append(b"data: " + _compact(dict(head, choices=[], usage=_openai_usage(ans))) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def openai_chat(mock, req, cfg):
    """POST .../chat/completions (OpenAI, and every OpenAI-compatible provider)."""
    body, err = _openai_body(req)
    if err:
        return err
    if not isinstance(body.get("messages"), list):
        return error_reply("openai", 400, "Missing required parameter: 'messages'.")
    model = body["model"]
    units, last = _message_units(body["messages"])
    ans = mock.answer(cfg, prompt_tokens(units), last,
                      body.get("max_completion_tokens", body.get("max_tokens")),
                      bool(_REASONING_OPENAI.match(model)))
    ids = _Ids(req, ans.n)
    finish = "length" if ans.truncated else "stop"
    head = {"id": "chatcmpl-" + ids.b62("id", 29), "object": "chat.completion",
            "created": mock.epoch, "model": dated_model(model)}
    tokens = (ans.prompt, ans.output)
    if body.get("stream") is not True:
        obj = dict(head, choices=[{"index": 0,
                                   "message": {"role": "assistant", "content": ans.text,
                                               "refusal": None, "annotations": []},
                                   "logprobs": None, "finish_reason": finish}],
                   usage=_openai_usage(ans), service_tier="default",
                   system_fingerprint=_fingerprint(model))
        return _json(200, obj, pretty=2, tokens=tokens)
    head.update(object="chat.completion.chunk", service_tier="default",
                system_fingerprint=_fingerprint(model))
    choices = [[{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                 "logprobs": None, "finish_reason": None}]]
    choices += [[{"index": 0, "delta": {"content": d}, "logprobs": None, "finish_reason": None}]
                for d in ans.deltas]
    choices.append([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}])
    return _stream(_SSE, _openai_sse(head, choices, ans, _include_usage(body)), tokens)


def openai_completions(mock, req, cfg):
    """POST .../completions: the legacy text completion API."""
    body, err = _openai_body(req)
    if err:
        return err
    prompt = body.get("prompt", "")
    units = prompt if isinstance(prompt, list) else [prompt]
    units = [text_of(u) for u in units]
    model = body["model"]
    ans = mock.answer(cfg, prompt_tokens(units), units[-1] if units else "",
                      body.get("max_tokens"), False)
    ids = _Ids(req, ans.n)
    finish = "length" if ans.truncated else "stop"
    head = {"id": "cmpl-" + ids.b62("id", 29), "object": "text_completion",
            "created": mock.epoch, "model": dated_model(model)}
    usage = {"prompt_tokens": ans.prompt, "completion_tokens": ans.output,
             "total_tokens": ans.prompt + ans.output}
    tokens = (ans.prompt, ans.output)
    if body.get("stream") is not True:
        obj = dict(head, choices=[{"text": ans.text, "index": 0, "logprobs": None,
                                   "finish_reason": finish}], usage=usage)
        return _json(200, obj, pretty=2, tokens=tokens)
    choices = [[{"text": d, "index": 0, "logprobs": None, "finish_reason": None}]
               for d in ans.deltas]
    choices.append([{"text": "", "index": 0, "logprobs": None, "finish_reason": finish}])
    return _stream(_SSE, _openai_sse(head, choices, ans, _include_usage(body)), tokens)


def openai_responses(mock, req, cfg):
    """POST .../responses: the Responses API, plain or as its typed SSE event stream."""
    body, err = _openai_body(req)
    if err:
        return err
    inp = body.get("input")
    units, last = _message_units(inp if isinstance(inp, list) else [inp],
                                 body.get("instructions"))
    model = body["model"]
    ans = mock.answer(cfg, prompt_tokens(units), last, body.get("max_output_tokens"),
                      bool(_REASONING_OPENAI.match(model)))
    ids = _Ids(req, ans.n)
    msg_id = "msg_" + ids.hex("msg", 48)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ans.text}
    item = {"id": msg_id, "type": "message", "status": "completed", "content": [part],
            "role": "assistant"}
    usage = {"input_tokens": ans.prompt, "input_tokens_details": {"cached_tokens": ans.cached},
             "output_tokens": ans.output,
             "output_tokens_details": {"reasoning_tokens": ans.reasoning},
             "total_tokens": ans.prompt + ans.output}

    def response(status, output, usage_val):
        return {"id": "resp_" + ids.hex("resp", 48), "object": "response",
                "created_at": mock.epoch, "status": status, "background": False,
                "error": None,
                "incomplete_details": {"reason": "max_output_tokens"}
                if status == "incomplete" else None,
                "instructions": body.get("instructions"),
                "max_output_tokens": body.get("max_output_tokens"),
                "model": dated_model(model), "output": output, "parallel_tool_calls": True,
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None}, "service_tier": "default",
                "store": body.get("store", True), "temperature": 1.0,
                "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
                "top_p": 1.0, "truncation": "disabled", "usage": usage_val,
                "user": None, "metadata": {}}

    final = "incomplete" if ans.truncated else "completed"
    tokens = (ans.prompt, ans.output)
    if body.get("stream") is not True:
        return _json(200, response(final, [item], usage), pretty=2, tokens=tokens)
    events = []

    def ev(kind, **fields):
        obj = {"type": kind, "sequence_number": len(events)}
        obj.update(fields)
        events.append(b"event: " + kind.encode() + b"\ndata: " + _compact(obj) + b"\n\n")

    loc = {"item_id": msg_id, "output_index": 0, "content_index": 0}
    ev("response.created", response=response("in_progress", [], None))
    ev("response.in_progress", response=response("in_progress", [], None))
    ev("response.output_item.added", output_index=0,
       item=dict(item, status="in_progress", content=[]))
    ev("response.content_part.added", part=dict(part, text=""), **loc)
    for d in ans.deltas:
        ev("response.output_text.delta", delta=d, logprobs=[], **loc)
    ev("response.output_text.done", text=ans.text, logprobs=[], **loc)
    ev("response.content_part.done", part=part, **loc)
    ev("response.output_item.done", output_index=0, item=item)
    ev("response." + final, response=response(final, [item], usage))
    return _stream(_SSE, events, tokens)


def openai_embeddings(mock, req, cfg):
    """POST .../embeddings: deterministic unit vectors, as floats or base64 float32.

    Prompt tokens are the words of every input (no per-input overhead); token-id
    inputs count one token per id. The model name is echoed undated, as OpenAI does.
    """
    body, err = _openai_body(req)
    if err:
        return err
    inp = body.get("input")
    if isinstance(inp, str) or (isinstance(inp, list) and inp and isinstance(inp[0], int)):
        inp = [inp]
    if not isinstance(inp, list) or not inp:
        return error_reply("openai", 400, "'input' is a required property")
    model = body["model"]
    dims = body.get("dimensions")
    if not isinstance(dims, int) or dims <= 0:
        dims = 3072 if "large" in model else 1536
    data, total = [], 0
    for i, item in enumerate(inp):
        total += len(item) if isinstance(item, list) else words(text_of(item))
        rnd = random.Random(hashlib.sha256(_compact([model, item])).digest())
        vec = [rnd.uniform(-1.0, 1.0) for _ in range(dims)]
        norm = sum(x * x for x in vec) ** 0.5
        vec = [x / norm for x in vec]
        if body.get("encoding_format") == "base64":
            emb = base64.b64encode(struct.pack("<%df" % dims, *vec)).decode()
        else:
            emb = vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    obj = {"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": total, "total_tokens": total}}
    return _json(200, obj, pretty=2, tokens=(total, 0))


_OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "o4-mini",
                  "gpt-5", "gpt-5-mini", "text-embedding-3-small", "text-embedding-3-large")
_ANTHROPIC_MODELS = (("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
                     ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
                     ("claude-opus-4-1-20250805", "Claude Opus 4.1"))


def list_models(mock, req, cfg):
    """GET .../models: OpenAI's list, or Anthropic's when the request is Anthropic's."""
    if "anthropic-version" in req.headers:
        data = [{"type": "model", "id": i, "display_name": n,
                 "created_at": i[-8:-4] + "-" + i[-4:-2] + "-" + i[-2:] + "T00:00:00Z"}
                for i, n in _ANTHROPIC_MODELS]
        return _json(200, {"data": data, "has_more": False, "first_id": data[0]["id"],
                           "last_id": data[-1]["id"]})
    err = _openai_auth(req)
    if err:
        return err
    return _json(200, {"object": "list",
                       "data": [{"id": m, "object": "model", "created": mock.epoch,
                                 "owned_by": "system"} for m in _OPENAI_MODELS]}, pretty=2)


# --------------------------------------------------------------------------------------
# Anthropic Messages
# --------------------------------------------------------------------------------------

def _anthropic_prompt(body):
    """(prompt tokens, cache breakpoints) of a Messages request.

    Units are the system prompt (if any) and each message, in order, with the
    token rule. A content block carrying cache_control ends a cacheable prefix;
    each breakpoint is (tokens up to and including that block, key of the prefix,
    ttl). The key hashes the model, the tools and every block up to there (without
    their cache_control), so any change before a breakpoint misses the cache.
    """
    h = hashlib.sha256(_compact([body.get("model"), body.get("tools")]))
    total, bps = 0, []
    units = [] if body.get("system") is None else [body["system"]]
    units += [m.get("content") for m in body["messages"] if isinstance(m, dict)]
    for unit in units:
        total += 4
        h.update(b"\x00unit")
        for block in unit if isinstance(unit, list) else [unit]:
            total += words(text_of(block))
            cc = block.get("cache_control") if isinstance(block, dict) else None
            h.update(_compact({k: v for k, v in block.items() if k != "cache_control"}
                              if isinstance(block, dict) else block))
            if isinstance(cc, dict):
                bps.append((total, h.hexdigest(), cc.get("ttl", "5m")))
    return total, bps


_TOOL_DIRECTIVE = re.compile(r"\[mock-tool ([A-Za-z0-9_.-]+)((?: [A-Za-z0-9_]+=[^\s\]]*)*)\]")


def _tool_call(body, last):
    """The tool call a Messages request asks the mock to make, or None: the last
    user text says "[mock-tool NAME KEY=VALUE ...]" and NAME is one of the
    request's tools. The call's input is {KEY: VALUE, ...} (strings). A request
    whose last user message is the tool's result gets an ordinary answer to it,
    so an agent's tool round trip ends in a text answer."""
    m = _TOOL_DIRECTIVE.search(last or "")
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    if not m or m.group(1) not in {t.get("name") for t in tools if isinstance(t, dict)}:
        return None
    return m.group(1), dict(kv.split("=", 1) for kv in m.group(2).split())


def anthropic_messages(mock, req, cfg):
    """POST /v1/messages: Anthropic Messages, plain or as its named SSE event stream."""
    # the key as x-api-key, or (newer SDKs, OAuth tokens) as Authorization: Bearer
    if not req.headers.get("x-api-key") and not req.headers.get("authorization", "").startswith("Bearer "):
        return error_reply("anthropic", 401, "x-api-key header is required")
    if not req.headers.get("anthropic-version"):
        return error_reply("anthropic", 400, "anthropic-version: header is required")
    body = req.json
    if not isinstance(body, dict):
        return error_reply("anthropic", 400, "There was an error parsing the body of your request")
    for field, kind in (("model", str), ("max_tokens", int), ("messages", list)):
        if not isinstance(body.get(field), kind):
            return error_reply("anthropic", 400, "%s: Field required" % field)
    total, bps = _anthropic_prompt(body)
    if _anthropic_forced_tool(body):
        return anthropic_forced_tool(mock, req, cfg, body, total)
    _, last = _message_units(body["messages"])
    thinking = body.get("thinking")
    ans = mock.answer(cfg, total, last, body["max_tokens"],
                      isinstance(thinking, dict) and thinking.get("type") == "enabled")
    read, c5, c1h = mock.prompt_cache(bps)
    read += min(ans.cached, total - read - c5 - c1h)
    usage = {"input_tokens": total - read - c5 - c1h,
             "cache_creation_input_tokens": c5 + c1h, "cache_read_input_tokens": read,
             "cache_creation": {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1h},
             "output_tokens": ans.output, "service_tier": "standard"}
    ids = _Ids(req, ans.n)
    stop = "max_tokens" if ans.truncated else "end_turn"
    msg = {"id": "msg_01" + ids.b62("id", 22), "type": "message", "role": "assistant",
           "model": dated_model(body["model"])}
    tokens = (total, ans.output)
    tool = _tool_call(body, last)
    if tool:  # a tool_use block instead of text; output tokens as for an answer
        stop = "tool_use"
        block = {"type": "tool_use", "id": "toolu_01" + ids.b62("tool", 22), "name": tool[0], "input": tool[1]}
    if body.get("stream") is not True:
        return _json(200, dict(msg, content=[block if tool else {"type": "text", "text": ans.text}],
                               stop_reason=stop, stop_sequence=None, usage=usage), tokens=tokens)

    def ev(name, data):
        return b"event: " + name + b"\ndata: " + data + b"\n\n"

    start = dict(msg, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(usage, output_tokens=1))
    first = dict(block, input={}) if tool else {"type": "text", "text": ""}
    events = [ev(b"message_start", _compact({"type": "message_start", "message": start})),
              ev(b"content_block_start", _compact({"type": "content_block_start", "index": 0,
                                                   "content_block": first})),
              ev(b"ping", b'{"type": "ping"}')]   # sic: Anthropic's ping has a space
    if tool:  # the input as partial JSON, in two pieces, as the API streams it
        js = json.dumps(tool[1], separators=(",", ":"))
        parts = [js[:len(js) // 2], js[len(js) // 2:]]
        events += [ev(b"content_block_delta",
                      _compact({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "input_json_delta", "partial_json": d}})) for d in parts]
    else:
        events += [ev(b"content_block_delta",
                      _compact({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": d}})) for d in ans.deltas]
    events += [ev(b"content_block_stop", _compact({"type": "content_block_stop", "index": 0})),
               ev(b"message_delta", _compact({"type": "message_delta",
                                              "delta": {"stop_reason": stop, "stop_sequence": None},
                                              "usage": {"output_tokens": ans.output}})),
               ev(b"message_stop", _compact({"type": "message_stop"}))]
    return _stream(_SSE, events, tokens)


def _anthropic_forced_tool(body):
    """The request forces a tool (tool_choice any/tool) and its last turn is not a tool result."""
    tc = body.get("tool_choice")
    if not (isinstance(tc, dict) and tc.get("type") in ("any", "tool") and body.get("tools")):
        return False
    last = body["messages"][-1] if body["messages"] else {}
    content = last.get("content") if isinstance(last, dict) else None
    return not (isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result"
                                                  for b in content))


def anthropic_forced_tool(mock, req, cfg, body, total):
    """A tool_use answer to a request that forces a tool: the named tool (or the
    first), with every required string property of its schema set to "mock" and
    every other required property to 1. Streamed as Anthropic streams tool input:
    content_block_start with an empty input, then input_json_delta pieces."""
    tools = [t for t in body["tools"] if isinstance(t, dict)]
    tc = body["tool_choice"]
    tool = next((t for t in tools if t.get("name") == tc.get("name")), tools[0] if tools else {})
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {}
    args = {k: ("mock" if (props.get(k) or {}).get("type") == "string" else 1)
            for k in schema.get("required") or []}
    ans = mock.answer(cfg, total, "", body["max_tokens"], False)
    ids = _Ids(req, ans.n)
    out_tokens = 8 + len(args)
    usage = {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "output_tokens": out_tokens, "service_tier": "standard"}
    block = {"type": "tool_use", "id": "toolu_01" + ids.b62("tool", 22), "name": tool.get("name", ""),
             "input": args}
    msg = {"id": "msg_01" + ids.b62("id", 22), "type": "message", "role": "assistant",
           "model": dated_model(body["model"])}
    tokens = (total, out_tokens)
    if body.get("stream") is not True:
        return _json(200, dict(msg, content=[block], stop_reason="tool_use", stop_sequence=None, usage=usage),
                     tokens=tokens)

    def ev(name, data):
        return b"event: " + name + b"\ndata: " + _compact(data) + b"\n\n"

    text = json.dumps(args)
    half = len(text) // 2
    events = [ev(b"message_start", {"type": "message_start", "message": dict(
                  msg, content=[], stop_reason=None, stop_sequence=None, usage=dict(usage, output_tokens=1))}),
              ev(b"content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": dict(block, input={})})]
    events += [ev(b"content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "input_json_delta", "partial_json": piece}})
               for piece in (text[:half], text[half:])]
    events += [ev(b"content_block_stop", {"type": "content_block_stop", "index": 0}),
               ev(b"message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                     "usage": {"output_tokens": out_tokens}}),
               ev(b"message_stop", {"type": "message_stop"})]
    return _stream(_SSE, events, tokens)


# --------------------------------------------------------------------------------------
# Google Gemini
# --------------------------------------------------------------------------------------

_GEMINI_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):(generateContent|streamGenerateContent)$")
_GEMINI_JSON = "application/json; charset=UTF-8"


def gemini(mock, req, cfg, model, method):
    """POST /v1beta/models/{model}:generateContent and :streamGenerateContent.

    The key comes from the x-goog-api-key header or ?key=. A stream is SSE
    ("data: {...}\\r\\n\\r\\n") with ?alt=sse, else one JSON array sent element by
    element ("[{...}", ",\\r\\n{...}", ..., "]"). Every element carries
    usageMetadata with the counts so far; the last one has finishReason.
    """
    if not (req.headers.get("x-goog-api-key") or req.param("key")):
        return error_reply("gemini", 403, "Method doesn't allow unregistered callers (callers "
                           "without established identity). Please use API Key or other form "
                           "of API consumer identity to call this API.")
    body = req.json
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
        return error_reply("gemini", 400, "* GenerateContentRequest.contents: contents is not specified")
    units, last = _message_units(body["contents"], body.get("systemInstruction"))
    gen = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
    ans = mock.answer(cfg, prompt_tokens(units), last, gen.get("maxOutputTokens"),
                      bool(_REASONING_GEMINI.match(model)))
    rid = base64.urlsafe_b64encode(_Ids(req, ans.n).digest("rid")[:16]).decode().rstrip("=")
    tokens = (ans.prompt, ans.output)

    def usage(visible):
        u = {"promptTokenCount": ans.prompt, "candidatesTokenCount": visible,
             "totalTokenCount": ans.prompt + visible + ans.reasoning}
        if ans.cached:
            u["cachedContentTokenCount"] = ans.cached
        u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": ans.prompt}]
        if ans.reasoning:
            u["thoughtsTokenCount"] = ans.reasoning
        return u

    def response(text, visible, final):
        cand = {"content": {"parts": [{"text": text}], "role": "model"}}
        if final:
            cand["finishReason"] = "MAX_TOKENS" if ans.truncated else "STOP"
        cand["index"] = 0
        return {"candidates": [cand], "usageMetadata": usage(visible),
                "modelVersion": model, "responseId": rid}

    if method == "generateContent":
        return _json(200, response(ans.text, len(ans.words), True), pretty=2,
                     ctype=_GEMINI_JSON, tokens=tokens)
    n = len(ans.words)
    chunks = [response(d, i + 1, i + 1 == n) for i, d in enumerate(ans.deltas)]
    if req.param("alt") == "sse":
        return _stream("text/event-stream", [b"data: " + _compact(c) + b"\r\n\r\n" for c in chunks],
                       tokens)
    events = [(b"[" if i == 0 else b",\r\n") + _pretty(c) for i, c in enumerate(chunks)]
    events.append(b"]")
    return _stream(_GEMINI_JSON, events, tokens)


# --------------------------------------------------------------------------------------
# Ollama native API
# --------------------------------------------------------------------------------------

def _ollama_time(mock, n, i):
    """created_at of the i-th object of answer n: RFC 3339 with nanoseconds, deterministic."""
    t = mock.epoch + n
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % (i * 1000000)


def ollama(mock, req, cfg, chat):
    """POST /api/chat (chat=True) and /api/generate: NDJSON stream unless "stream": false."""
    body = req.json
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return error_reply("ollama", 400, "model is required")
    if chat:
        units, last = _message_units(body.get("messages"))
    else:
        prompt = text_of(body.get("prompt", ""))
        units, last = _message_units([prompt], body.get("system"))
    opts = body.get("options") if isinstance(body.get("options"), dict) else {}
    ans = mock.answer(cfg, prompt_tokens(units), last, opts.get("num_predict"), False)
    model, key = body["model"], "message" if chat else "response"

    def content(text):
        return {"role": "assistant", "content": text} if chat else text

    def done(i, text):
        obj = {"model": model, "created_at": _ollama_time(mock, ans.n, i), key: content(text)}
        reason = "length" if ans.truncated else "stop"
        if chat:
            obj.update(done_reason=reason, done=True)
        else:
            obj.update(done=True, done_reason=reason)
        obj.update(total_duration=2500000 + 1000000 * ans.output + 100000 * ans.prompt,
                   load_duration=1500000, prompt_eval_count=ans.prompt,
                   prompt_eval_duration=100000 * ans.prompt, eval_count=ans.output,
                   eval_duration=1000000 * ans.output)
        return obj

    tokens = (ans.prompt, ans.output)
    if body.get("stream") is False:
        return _json(200, done(0, ans.text), ctype="application/json; charset=utf-8",
                     tokens=tokens)
    events = [_compact({"model": model, "created_at": _ollama_time(mock, ans.n, i),
                        key: content(d), "done": False}) + b"\n"
              for i, d in enumerate(ans.deltas)]
    events.append(_compact(done(len(events), "")) + b"\n")
    return _stream("application/x-ndjson", events, tokens)


# --------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------

def route(method, path, headers):
    """(provider kind, handler(mock, req, cfg) -> _Reply) for a request, or (kind, None).

    The kind (openai, anthropic, gemini, ollama) selects error shapes, headers and
    rate-limit families. Any path ending in /chat/completions, /responses,
    /embeddings, /completions or /models is OpenAI's API, whatever its prefix
    (/v1, Groq's /openai/v1, OpenRouter's /api/v1, Gemini's /v1beta/openai).
    """
    if path == "/v1/messages":
        return "anthropic", (anthropic_messages if method == "POST" else None)
    g = _GEMINI_PATH.match(path)
    if g:
        return "gemini", ((lambda m, r, c: gemini(m, r, c, g.group(1), g.group(2)))
                          if method == "POST" else None)
    if path in ("/api/chat", "/api/generate"):
        return "ollama", ((lambda m, r, c: ollama(m, r, c, path == "/api/chat"))
                          if method == "POST" else None)
    if path.endswith("/models") and method == "GET":
        return ("anthropic" if "anthropic-version" in headers else "openai"), list_models
    for suffix, handler in (("/chat/completions", openai_chat), ("/responses", openai_responses),
                            ("/embeddings", openai_embeddings), ("/completions", openai_completions)):
        if path.endswith(suffix):
            return "openai", (handler if method == "POST" else None)
    return "openai", None


# --------------------------------------------------------------------------------------
# Shared state
# --------------------------------------------------------------------------------------

class _Script:
    """One script() call: a match and the queue of entries it still has to give."""
    __slots__ = ("match", "entries")

    def __init__(self, match, entries):
        self.match = match or {}
        self.entries = collections.deque(entries)

    def matches(self, req, model):
        for k, v in self.match.items():
            if k == "path" and v not in req.path:
                return False
            if k == "model" and v != model:
                return False
            if k == "method" and v.upper() != req.method:
                return False
        return True


class _State:
    """Everything tests observe or change; every field is guarded by `lock`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.epoch = int(time.time())   # "created" of every answer; survives reset()
        self.conn_serial = 0            # connection numbers; never reset, so always unique
        self.clear()

    def clear(self):
        """Back to a fresh mock: no requests, scripts or cache; default configuration."""
        self.requests = []
        self.scripts = []
        self.config = dict(DEFAULTS)
        self.answers = 0                              # answer counter (n)
        self.served = collections.Counter()           # provider requests per rate-limit family
        self.used_in = collections.Counter()          # input tokens per rate-limit family
        self.used_out = collections.Counter()         # output tokens per rate-limit family
        self.cache = set()                            # Anthropic prompt-prefix keys seen


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------

class _Closed(Exception):
    """The client closed the connection or sent something unanswerable; drop it."""


class MockProvider:
    """A mock LLM provider listening on one address (HTTP, or HTTPS with tls=True).

    Public attributes and methods are thread-safe. `share` makes this instance use
    another's state (requests, scripts, configuration), e.g. an HTTPS port beside
    an HTTP port; connection serial numbers then stay unique across both.
    """

    def __init__(self, tls=False, certfile=None, keyfile=None, host="127.0.0.1", port=0,
                 share=None):
        if tls and not (certfile and keyfile):
            raise ValueError("tls=True needs certfile and keyfile")
        self.tls, self.host, self._want_port = tls, host, port
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(certfile, keyfile)
            self._ctx.set_alpn_protocols(["http/1.1"])
        self._st = share._st if share is not None else _State()
        self._stopping = threading.Event()
        self._lsock = None
        self._threads = set()    # live connection threads; guarded by _tlock
        self._socks = set()      # live connection sockets; guarded by _tlock
        self._tlock = threading.Lock()
        self.port = None

    # ---- lifecycle ---------------------------------------------------------------

    def start(self):
        """Bind, listen and serve in background threads. Returns self."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self._want_port))
        s.listen(128)
        self._lsock = s
        self.port = s.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name="mock-accept-%d" % self.port)
        self._acceptor.start()
        return self

    def stop(self):
        """Stop serving: close the listener and every connection, join all threads."""
        if self._lsock is None:
            return
        self._stopping.set()
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)   # wakes accept()
        except OSError:
            pass
        self._lsock.close()
        self._acceptor.join(5)
        with self._tlock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            try:
                socket.socket.shutdown(s, socket.SHUT_RDWR)   # the raw socket, also under TLS
            except OSError:
                pass
        for t in threads:
            t.join(5)
        self._lsock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % ("https" if self.tls else "http", host, self.port)

    # ---- the test-facing API -----------------------------------------------------

    @property
    def requests(self):
        """A copy of the provider requests received so far (control requests excluded)."""
        with self._st.lock:
            return [dict(r) for r in self._st.requests]

    def count(self, path_substring=None):
        """Number of provider requests received whose path contains path_substring."""
        with self._st.lock:
            return sum(1 for r in self._st.requests
                       if path_substring is None or path_substring in r["path"])

    def script(self, responses, match=None):
        """Queue scripted answers, given in order to the requests that `match` selects.

        A request takes the next entry of the first script (in call order) that
        matches it and has entries left. Raises ValueError on a malformed script.
        """
        _validate_script(responses, match)
        with self._st.lock:
            self._st.scripts.append(_Script(match, [dict(e) for e in responses]))

    def configure(self, **kw):
        """Change configuration keys (see DEFAULTS); raises ValueError on a bad key or value."""
        _validate_config(kw)
        with self._st.lock:
            self._st.config.update(kw)

    def reset(self):
        """Forget requests, scripts, configuration, counters and the prompt cache."""
        with self._st.lock:
            self._st.clear()

    # ---- hooks the provider handlers call ----------------------------------------

    @property
    def epoch(self):
        return self._st.epoch

    def answer(self, cfg, prompt, last_user, limit, reasoning_model):
        """Take the next answer number and build the _Answer for it."""
        with self._st.lock:
            self._st.answers += 1
            n = self._st.answers
        return _Answer(n, cfg, prompt, last_user, limit, reasoning_model)

    def prompt_cache(self, breakpoints):
        """Anthropic prompt caching: (read, created 5m, created 1h) tokens.

        The longest breakpoint prefix seen before is read from the cache; every
        segment after it is written, attributed to its breakpoint's ttl.
        """
        with self._st.lock:
            hit = -1
            for i, (_, key, _) in enumerate(breakpoints):
                if key in self._st.cache:
                    hit = i
            read = breakpoints[hit][0] if hit >= 0 else 0
            c5 = c1h = 0
            prev = read
            for tokens, key, ttl in breakpoints[hit + 1:]:
                if ttl == "1h":
                    c1h += tokens - prev
                else:
                    c5 += tokens - prev
                prev = tokens
                self._st.cache.add(key)
        return read, c5, c1h

    # ---- connections -------------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                return                                    # listener shut down
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._st.lock:
                self._st.conn_serial += 1
                serial = self._st.conn_serial
            t = threading.Thread(target=self._serve_conn, args=(sock, serial), daemon=True,
                                 name="mock-conn-%d" % serial)
            with self._tlock:
                self._threads.add(t)
                self._socks.add(sock)
            t.start()

    def _serve_conn(self, sock, serial):
        """Answer requests on one connection until it closes, faults or the mock stops."""
        conn, rfile = sock, None
        try:
            if self._ctx is not None:
                sock.settimeout(10)                       # a stuck handshake must not pin us
                conn = self._ctx.wrap_socket(sock, server_side=True)
                conn.settimeout(None)
                with self._tlock:
                    self._socks.discard(sock)
                    self._socks.add(conn)
            rfile = conn.makefile("rb", buffering=65536)
            while not self._stopping.is_set():
                req = self._read_request(rfile, conn, serial)
                if req is None:
                    break
                if not self._respond(conn, req):
                    break
        except (_Closed, OSError):
            pass
        finally:
            # The socket's descriptor is released only once the reader is closed too;
            # this close is also what sends the RST that _close_reset prepared.
            for f in (rfile, conn):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass
            with self._tlock:
                self._socks.discard(conn)
                self._socks.discard(sock)
                self._threads.discard(threading.current_thread())

    def _read_request(self, rfile, conn, serial):
        """Read one request (head and body); None at a clean end of the connection.

        Handles Expect: 100-continue (sends the interim response before reading the
        body) and chunked request bodies. A malformed head is answered with 400.
        """
        line = rfile.readline(65537)
        while line in (b"\r\n", b"\n"):                   # RFC 9112 §2.2: ignore stray CRLFs
            line = rfile.readline(65537)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._send_simple(conn, 400, b"bad request line")
            return None
        req = _Request()
        req.method, req.target, req.version = parts
        req.conn = serial
        headers = {}
        for _ in range(MAX_HEADERS + 1):
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise _Closed()
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                self._send_simple(conn, 400, b"bad header line")
                return None
            name, value = name.strip().lower(), value.strip()
            headers[name] = headers[name] + ", " + value if name in headers else value
        else:
            self._send_simple(conn, 431, b"too many headers")
            return None
        req.headers = headers
        path, _, req.query = req.target.partition("?")
        req.path = path
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        try:
            length = 0 if chunked else int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send_simple(conn, 400, b"bad content-length")
            return None
        if length > MAX_BODY:
            self._send_simple(conn, 413, b"request body too large")
            return None
        if (chunked or length) and headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_chunked(rfile) if chunked else rfile.read(length)
        if len(body) < length:
            raise _Closed()
        req.body = body
        req.time = time.time()
        try:
            req.json = json.loads(body) if body else None
        except ValueError:
            req.json = None
        return req

    @staticmethod
    def _read_chunked(rfile):
        parts, total = [], 0
        while True:
            try:
                size = int(rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                raise _Closed() from None
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass                                   # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise _Closed()
            parts.append(rfile.read(size))
            rfile.readline(3)

    @staticmethod
    def _send_simple(conn, status, text):
        conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s"
                     % (status, _REASONS.get(status, "Error").encode(), len(text), text))

    # ---- answering ---------------------------------------------------------------

    def _respond(self, conn, req):
        """Answer one request; returns False when the connection must close."""
        if req.path.startswith("/__mock/"):
            reply, entry, cfg = self._control(req), {}, DEFAULTS
        else:
            reply, entry, cfg = self._provider_answer(req)
        fault = entry.get("fault")
        # HTTP/1.0 has no chunked encoding: a stream's end is the connection's end.
        keep = self._keep_alive(req) and not (reply.events and req.version == "HTTP/1.0")
        head, pieces = self._frame(req, reply, cfg, keep)
        if cfg["latency_ms"] and self._stopping.wait(cfg["latency_ms"] / 1000.0):
            return False
        if fault:
            self._send_fault(conn, fault, entry, reply, head, pieces)
            return False
        if reply.events is None or len(pieces) == 1 or not cfg["chunk_delay_ms"]:
            conn.sendall(head + b"".join(pieces))
        else:
            conn.sendall(head + pieces[0])
            for p in pieces[1:]:
                if self._stopping.wait(cfg["chunk_delay_ms"] / 1000.0):
                    return False
                conn.sendall(p)
        if not keep:
            _close_clean(conn)
        return keep

    def _provider_answer(self, req):
        """(reply, script entry or {}, configuration snapshot) for a provider request."""
        kind, handler = route(req.method, req.path, req.headers)
        model = req.json.get("model") if isinstance(req.json, dict) else None
        g = _GEMINI_PATH.match(req.path)
        if g:
            model = g.group(1)
        st = self._st
        with st.lock:
            st.requests.append(req.record())
            cfg = dict(st.config)
            entry = {}
            for s in st.scripts:
                if s.entries and s.matches(req, model):
                    entry = s.entries.popleft()
                    break
            st.scripts = [s for s in st.scripts if s.entries]
        status = entry.get("status", 200)
        if "body" in entry or status != 200:
            reply = self._scripted(kind, entry)
        elif handler is None:
            reply = error_reply("openai", 404, "Invalid URL (%s %s)" % (req.method, req.path))
        else:
            try:
                reply = handler(self, req, cfg)
            except Exception:                            # a mock bug: say so, keep serving
                traceback.print_exc()
                reply = error_reply(kind, 500, "mock provider internal error (see its stderr)")
        for k, v in entry.get("headers", {}).items():
            reply.set_header(k, str(v))
        self._add_provider_headers(kind, reply, cfg, handler is not None)
        return reply, entry, cfg

    @staticmethod
    def _scripted(kind, entry):
        """The reply for a script entry with a status other than 200 or a body."""
        status = entry.get("status", 200)
        body = entry.get("body")
        if body is None:
            return error_reply(kind, status)
        if isinstance(body, str):
            return _Reply(status, "text/plain; charset=utf-8", body=body.encode())
        return _json(status, body)

    def _add_provider_headers(self, kind, reply, cfg, counted):
        """Request-id, OpenAI processing headers and the rate-limit family's headers."""
        st = self._st
        family = "anthropic" if kind == "anthropic" else "openai"
        with st.lock:
            if counted:
                st.served[family] += 1
                st.used_in[family] += reply.tokens[0]
                st.used_out[family] += reply.tokens[1]
            served, used_in, used_out = st.served[family], st.used_in[family], st.used_out[family]
        rid = os.urandom(16).hex()
        if kind == "anthropic":
            reply.headers.append(("request-id", "req_011" + rid[:21]))
        else:
            reply.headers.append(("x-request-id", "req_" + rid))
        if kind == "openai":
            reply.headers += [("openai-version", "2020-10-01"), ("openai-processing-ms", "1")]
        if not cfg["ratelimit_headers"] or kind not in ("openai", "anthropic"):
            return
        lim_r, lim_t = RATE_LIMITS[family]
        rem_r, rem_t = max(0, lim_r - served), max(0, lim_t - used_in - used_out)
        if family == "openai":
            reply.headers += [("x-ratelimit-limit-requests", str(lim_r)),
                              ("x-ratelimit-limit-tokens", str(lim_t)),
                              ("x-ratelimit-remaining-requests", str(rem_r)),
                              ("x-ratelimit-remaining-tokens", str(rem_t)),
                              ("x-ratelimit-reset-requests", "1s"),
                              ("x-ratelimit-reset-tokens", "6m0s")]
            return
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        lim_o = lim_t // 5                     # Anthropic's output limit is the smaller one
        for name, lim, rem in (("requests", lim_r, rem_r), ("tokens", lim_t, rem_t),
                               ("input-tokens", lim_t, max(0, lim_t - used_in)),
                               ("output-tokens", lim_o, max(0, lim_o - used_out))):
            reply.headers += [("anthropic-ratelimit-%s-limit" % name, str(lim)),
                              ("anthropic-ratelimit-%s-remaining" % name, str(rem)),
                              ("anthropic-ratelimit-%s-reset" % name, reset)]

    @staticmethod
    def _keep_alive(req):
        conn = req.headers.get("connection", "").lower()
        if req.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @staticmethod
    def _frame(req, reply, cfg, keep):
        """(head bytes, body pieces) on the wire.

        A plain body is one piece with Content-Length (compressed first when allowed);
        a stream is one HTTP chunk per event with the terminating chunk joined to the
        last; an HTTP/1.0 client gets the stream's raw bytes, delimited by close.
        HEAD gets the head alone.
        """
        headers = [("Date", email.utils.formatdate(usegmt=True))] + reply.headers
        if reply.events is None:
            body = reply.body
            if reply.compressible and cfg["compress"]:
                enc = _choose_encoding(req.headers.get("accept-encoding"))
                if enc:
                    body = _ENCODERS[enc](body)
                    headers += [("Content-Encoding", enc), ("Vary", "Accept-Encoding")]
            headers.append(("Content-Length", str(len(body))))
            pieces = [b"" if req.method == "HEAD" else body]
        elif req.version == "HTTP/1.0":
            pieces = list(reply.events)
        else:
            headers.append(("Transfer-Encoding", "chunked"))
            pieces = [b"%x\r\n%s\r\n" % (len(e), e) for e in reply.events]
            pieces[-1] += b"0\r\n\r\n"
        headers.append(("Connection", "keep-alive" if keep else "close"))
        lines = ["HTTP/1.1 %d %s" % (reply.status, _REASONS.get(reply.status, "Unknown"))]
        lines += ["%s: %s" % kv for kv in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), pieces

    def _send_fault(self, conn, fault, entry, reply, head, pieces):
        """Misbehave as the script entry asks; the caller then closes the connection.

        after_chunks (default 2) counts the stream events sent before a
        reset_mid_stream / truncate_chunked; a plain answer is cut after half its
        body. slow_body sends the head, then the whole body in `pieces` (default 10)
        parts spread over `duration_ms` (default 1000).
        """
        streamed = reply.events is not None
        if fault in ("reset_mid_stream", "truncate_chunked"):
            if streamed:
                n = entry.get("after_chunks", 2)
                sent = b"".join(pieces[:n])
                if n >= len(pieces):                       # never the terminating chunk
                    sent = sent[:-len(b"0\r\n\r\n")]
            else:
                sent = pieces[0][:len(pieces[0]) // 2]
            conn.sendall(head + sent)
            if fault == "reset_mid_stream":
                _close_reset(conn)
            else:
                _close_clean(conn)
        elif fault == "garbage":
            conn.sendall(b"\x00\x7fNOT HTTP \xff\xfe garbage from the mock provider\r\n\r\n")
            _close_clean(conn)
        elif fault == "http09":
            # HTTP/0.9: no status line, no headers, the body until close.
            conn.sendall(b"".join(reply.events) if streamed else reply.body)
            _close_clean(conn)
        elif fault == "hang":
            self._hang(conn)
        elif fault == "close_before_response":
            _close_clean(conn)
        elif fault == "slow_body":
            data = b"".join(pieces)
            count = max(1, entry.get("pieces", 10))
            delay = entry.get("duration_ms", 1000) / 1000.0 / count
            step = max(1, -(-len(data) // count))
            conn.sendall(head)
            for i in range(0, len(data), step):
                if self._stopping.wait(delay):
                    return
                conn.sendall(data[i:i + step])
            _close_clean(conn)

    def _hang(self, conn):
        """Say nothing until the client goes away or the mock stops."""
        while not self._stopping.is_set():
            r, _, _ = select.select([conn], [], [], 0.25)
            if r:
                try:
                    if not conn.recv(4096):
                        return
                except ssl.SSLWantReadError:
                    continue
                except OSError:
                    return

    # ---- control API -------------------------------------------------------------

    def _control(self, req):
        """/__mock/{reset,script,configure,requests,health}; never recorded or counted."""
        try:
            if req.path == "/__mock/health" and req.method == "GET":
                return _json(200, {"ok": True, "port": self.port, "tls": self.tls})
            if req.path == "/__mock/requests" and req.method == "GET":
                return _json(200, self.requests)
            if req.method == "POST" and req.path == "/__mock/reset":
                self.reset()
            elif req.method == "POST" and req.path == "/__mock/script":
                if not isinstance(req.json, dict):
                    raise ValueError("body must be a JSON object")
                self.script(req.json.get("responses"), req.json.get("match"))
            elif req.method == "POST" and req.path == "/__mock/configure":
                if not isinstance(req.json, dict):
                    raise ValueError("body must be a JSON object")
                self.configure(**req.json)
            else:
                return _json(404, {"error": "unknown control request %s %s" % (req.method, req.path)})
        except ValueError as e:
            return _json(400, {"error": str(e)})
        return _json(200, {"ok": True})


# --------------------------------------------------------------------------------------
# Wire helpers
# --------------------------------------------------------------------------------------

def _choose_encoding(accept):
    """The content coding for an Accept-Encoding value: br, then gzip, then deflate,
    skipping codings with q=0 (and br when the brotli module is missing); None if none."""
    if not accept:
        return None
    q = {}
    for item in accept.split(","):
        token, _, params = item.partition(";")
        weight = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        q[token.strip().lower()] = weight
    for enc in ("br", "gzip", "deflate"):
        if enc == "br" and brotli is None:
            continue
        if q.get(enc, q.get("*", 0.0)) > 0:
            return enc
    return None


_ENCODERS = {
    "gzip": lambda b: gzip.compress(b, compresslevel=6, mtime=0),
    "deflate": zlib.compress,                 # HTTP "deflate" is the zlib format (RFC 9110 §8.4.1.2)
    "br": lambda b: brotli.compress(b, quality=5),
}


def _close_clean(conn):
    """End a connection politely: TLS close_notify (without waiting for the peer's), FIN."""
    try:
        if isinstance(conn, ssl.SSLSocket):
            conn.settimeout(0)
            try:
                conn.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass
        socket.socket.shutdown(conn, socket.SHUT_WR)
    except OSError:
        pass


def _close_reset(conn):
    """Make the coming close abrupt: SO_LINGER 0 turns it into a TCP RST, and no TLS
    close_notify is ever sent (Python's close() does not send one)."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


# --------------------------------------------------------------------------------------
# Program form
# --------------------------------------------------------------------------------------

def main(argv=None):
    """Serve until SIGTERM/SIGINT; print and write "http=PORT https=PORT" once listening."""
    ap = argparse.ArgumentParser(description="Local mock LLM provider for hcshim tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--https-port", type=int, default=None, help="also serve HTTPS (0: free port)")
    ap.add_argument("--cert", help="server certificate (PEM), needed with --https-port")
    ap.add_argument("--key", help="server private key (PEM), needed with --https-port")
    ap.add_argument("--portfile", help="write the ports line here (atomically)")
    a = ap.parse_args(argv)
    if a.https_port is not None and not (a.cert and a.key):
        ap.error("--https-port needs --cert and --key")
    servers = [MockProvider(host=a.host, port=a.http_port).start()]
    if a.https_port is not None:
        servers.append(MockProvider(tls=True, certfile=a.cert, keyfile=a.key, host=a.host,
                                    port=a.https_port, share=servers[0]).start())
    line = "http=%d https=%d\n" % (servers[0].port, servers[1].port if len(servers) > 1 else 0)
    if a.portfile:
        tmp = "%s.tmp.%d" % (a.portfile, os.getpid())
        with open(tmp, "w") as f:
            f.write(line)
        os.replace(tmp, a.portfile)
    sys.stdout.write(line)
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    for s in servers:
        s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
