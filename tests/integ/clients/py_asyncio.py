"""asyncio streams (stdlib): a hand-rolled HTTP/1.1 client over asyncio.open_connection
with TLS through memory BIOs — the I/O model the gateway must serve like any other."""
import asyncio
import ssl
import urllib.parse

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body.decode()


async def main():
    url, _, _ = request(provider, stream, prompt)
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, 443, ssl=ssl.create_default_context())
    for i in range(count):
        url, headers, body = request(provider, stream, prompt)
        hdrs = "".join("%s: %s\r\n" % kv for kv in headers.items())
        writer.write(("POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n"
                      % (u.path, u.hostname, hdrs, len(body))).encode() + body)
        await writer.drain()
        status, rh, raw = await read_response(reader)
        report(provider, stream, status, raw, rh)
    writer.close()


asyncio.run(main())
