"""python3-aiohttp client (its own resolver path: getaddrinfo in a thread)."""
import asyncio

import aiohttp

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()


async def main():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        for i in range(count):
            url, headers, body = request(provider, stream, prompt)
            async with s.post(url, data=body, headers=headers) as r:
                if stream:
                    parts = []
                    async for chunk in r.content.iter_any():
                        parts.append(chunk)
                    raw = b"".join(parts).decode()
                else:
                    raw = await r.text()
                report(provider, stream, r.status, raw, dict(r.headers))


asyncio.run(main())
