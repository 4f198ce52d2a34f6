#!/usr/bin/env python3
"""A small two-step research agent — an ordinary program that knows nothing about hcshim.

    research_agent.py research TOPIC NOTES_FILE   gather notes with a fast model (OpenAI)
    research_agent.py summarize NOTES_FILE        summarize them with another (Anthropic)

It talks to the providers' real endpoints (https://api.openai.com/v1 and
https://api.anthropic.com) with keys from OPENAI_API_KEY / ANTHROPIC_API_KEY,
using only the standard library. Run it under hcshim and every call is
recorded, costed and tagged without changing a line of it:

    hc-run --property Workflow=research --property Step=research --user ada -- \
        python3 research_agent.py research "LMDB" notes.txt
"""
import json
import os
import sys
import urllib.request

QUESTIONS = ["What is {t}?", "Who uses {t} and why?", "What are the trade-offs of {t}?"]


def post(url, headers, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict(headers, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def ask_openai(prompt):
    d = post("https://api.openai.com/v1/chat/completions",
             {"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")},
             {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
    return d["choices"][0]["message"]["content"]


def ask_anthropic(prompt):
    d = post("https://api.anthropic.com/v1/messages",
             {"x-api-key": os.environ.get("ANTHROPIC_API_KEY", ""), "anthropic-version": "2023-06-01"},
             {"model": "claude-sonnet-4-5", "max_tokens": 512,
              "messages": [{"role": "user", "content": prompt}]})
    return "".join(b.get("text", "") for b in d["content"])


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "research":
        topic, notes = sys.argv[2], sys.argv[3]
        with open(notes, "w") as f:
            for q in QUESTIONS:
                f.write("Q: %s\nA: %s\n\n" % (q.format(t=topic), ask_openai(q.format(t=topic))))
        print("research: %d notes written to %s" % (len(QUESTIONS), notes))
    elif len(sys.argv) >= 3 and sys.argv[1] == "summarize":
        with open(sys.argv[2]) as f:
            notes = f.read()
        print("summary:", ask_anthropic("Summarize these research notes in three sentences:\n\n" + notes))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
