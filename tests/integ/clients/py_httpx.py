"""python3-httpx client; argv[5] == "async" uses AsyncClient."""
import asyncio
import sys

import httpx

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()
use_async = len(sys.argv) > 5 and sys.argv[5] == "async"


def sync_main():
    with httpx.Client(timeout=30) as c:
        for i in range(count):
            url, headers, body = request(provider, stream, prompt)
            if stream:
                with c.stream("POST", url, content=body, headers=headers) as r:
                    raw = b"".join(r.iter_bytes()).decode()
                    report(provider, stream, r.status_code, raw, dict(r.headers))
            else:
                r = c.post(url, content=body, headers=headers)
                report(provider, stream, r.status_code, r.text, dict(r.headers))


async def async_main():
    async with httpx.AsyncClient(timeout=30) as c:
        for i in range(count):
            url, headers, body = request(provider, stream, prompt)
            if stream:
                async with c.stream("POST", url, content=body, headers=headers) as r:
                    raw = b"".join([b async for b in r.aiter_bytes()]).decode()
                    report(provider, stream, r.status_code, raw, dict(r.headers))
            else:
                r = await c.post(url, content=body, headers=headers)
                report(provider, stream, r.status_code, r.text, dict(r.headers))


if use_async:
    asyncio.run(async_main())
else:
    sync_main()
