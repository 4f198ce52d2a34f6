#!/usr/bin/env python3
"""The Helicone tutorial's two-step agent, written the way the tutorial writes it.

It uses Helicone's AI Gateway: base_url https://ai-gateway.helicone.ai, the
Helicone key, and Helicone-* headers for the workflow, the step and the user.
Under hcshim it runs unchanged and entirely locally: the shim answers
ai-gateway.helicone.ai itself, sends each request to the provider its model
names with that provider's key (OPENAI_API_KEY here), and records it:

    HELICONE_API_KEY=sk-helicone-... OPENAI_API_KEY=sk-... \
        scripts/hc-run -- python3 examples/helicone_agent.py "LMDB"
    build/hc-analyze report --by property:Step

The OpenAI Python SDK is used when it is installed; otherwise a few lines
below send the same request with the standard library (the demo machine has
no PyPI).
"""
import os
import sys

try:
    from openai import OpenAI
except ImportError:  # the same request as the SDK, with the standard library
    import json
    import types
    import urllib.request

    class OpenAI:
        def __init__(self, base_url, api_key):
            self.base_url, self.api_key = base_url.rstrip("/"), api_key
            self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self._create))

        def _create(self, model, messages, extra_headers=None, **kw):
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       "User-Agent": "OpenAI/Python 1.54.4", "X-Stainless-Lang": "python",
                       "Authorization": "Bearer " + self.api_key}
            headers.update(extra_headers or {})
            req = urllib.request.Request(self.base_url + "/chat/completions", method="POST", headers=headers,
                                         data=json.dumps(dict(messages=messages, model=model, **kw)).encode())
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r, object_hook=lambda d: types.SimpleNamespace(**d))


client = OpenAI(
    base_url="https://ai-gateway.helicone.ai",
    api_key=os.environ.get("HELICONE_API_KEY"),
)


def research(topic):
    response = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"Research the topic '{topic}' and list the key facts."}],
        extra_headers={
            "Helicone-Property-Workflow": "research-agent",
            "Helicone-Property-Step": "research",
            "Helicone-User-Id": "user-123",
        },
    )
    return response.choices[0].message.content


def summarize(notes):
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Summarize these notes in two sentences:\n\n{notes}"}],
        extra_headers={
            "Helicone-Property-Workflow": "research-agent",
            "Helicone-Property-Step": "summarize",
            "Helicone-User-Id": "user-123",
        },
    )
    return response.choices[0].message.content


if __name__ == "__main__":
    topic = sys.argv[1] if len(sys.argv) > 1 else "LMDB"
    notes = research(topic)
    print("research:", notes)
    print("summary:", summarize(notes))
