"""Hostile clients against the running web app (issue 18, items 1 and 2): a raw WebSocket client from another
origin, without the per-launch secret, and with a chunk header claiming 1 GiB.

A trame server guarded as the app's is served in-process on a free port; an aiohttp client plays the attacker.
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest

pytest.importorskip("trame")
aiohttp = pytest.importorskip("aiohttp")
msgpack = pytest.importorskip("msgpack")

from wslink.chunking import generate_chunks  # noqa: E402

from LesionSegWeb.guard import MAX_MESSAGE_BYTES, AccessPolicy, BoundedUnChunker, MessageTooLargeError  # noqa: E402

GIB = 1 << 30


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hello() -> bytes:
    message = {"wslink": "1.0", "id": "system:c0:0", "method": "wslink.hello",
               "args": [{"secret": "wslink-secret"}], "kwargs": {}}
    return next(generate_chunks(msgpack.packb(message), 4 << 20))


def _claiming(size: int) -> bytes:
    """A wslink chunk whose header claims a ``size``-byte message and carries 16 bytes of it."""
    return (7).to_bytes(4, "little") + (0).to_bytes(4, "little") + size.to_bytes(4, "little") + b"x" * 16


class GuardedServer:
    """A bare trame server guarded as ``ReviewWebApp`` guards its own (``AccessPolicy.install`` on
    ``on_server_bind``): the same middleware and WebSocket handler, without the seconds a Slicer scene takes.
    The app's own wiring is covered by ``test_web_browser.py`` (the page opens only with the printed address)."""

    def __init__(self) -> None:
        from trame.app import get_server

        self.server = get_server("lesionseg-security-test", client_type="vue3")
        self.access = AccessPolicy(allow_origins=("http://allowed.example:3000",))
        self.server.controller.on_server_bind.add(self.access.install)

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def url(self) -> str:
        return self.access.url(self.port)


@pytest.fixture(scope="module")
def served():
    """(guarded server, event loop), listening on a free loopback port."""
    app = GuardedServer()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_start(app))
    yield app, loop
    loop.run_until_complete(app.server.stop())
    loop.close()


async def _start(app: GuardedServer) -> None:
    app.server.start(exec_mode="task", thread=True, timeout=0, port=0, host="127.0.0.1", open_browser=False,
                     show_connection_info=False)
    await app.server.ready


async def _connect(app: GuardedServer, headers: dict[str, str], token: str | None) -> tuple[str, object]:
    """('refused', status) or ('open', hello reply or close code)."""
    query = "" if token is None else f"?token={token}"
    async with aiohttp.ClientSession() as client:
        try:
            ws = await client.ws_connect(f"ws://127.0.0.1:{app.port}/ws{query}", headers=headers)
        except aiohttp.WSServerHandshakeError as error:
            return "refused", error.status
        async with ws:
            await ws.send_bytes(_hello())
            reply = await ws.receive(timeout=20)
            if reply.type == aiohttp.WSMsgType.BINARY:
                return "open", msgpack.unpackb(reply.data[12:])
            return "open", reply.type


def run(served, work):
    app, loop = served
    return loop.run_until_complete(work(app))


@pytest.mark.parametrize(("origin", "with_token", "expected"), [
    ("http://evil.example", True, "refused"),  # another page in the same browser
    ("http://127.0.0.1:1", True, "refused"),  # another port on the same machine is another origin
    (None, False, "refused"),  # no secret
    ("SAME", False, "refused"),
    ("SAME", True, "open"),
    ("http://allowed.example:3000", True, "open"),  # --allow-origin
])
def test_the_websocket_needs_the_page_origin_and_the_launch_secret(served, origin, with_token, expected) -> None:
    app = served[0]
    origin = f"http://127.0.0.1:{app.port}" if origin == "SAME" else origin
    headers = {} if origin is None else {"Origin": origin}
    outcome, detail = run(served, lambda a: _connect(a, headers, a.access.token if with_token else None))
    assert outcome == expected, detail
    if expected == "refused":
        assert detail == 403
    else:
        assert detail["result"]["clientID"].startswith("c")


def test_a_wrong_token_is_refused_and_the_printed_address_sets_the_cookie(served) -> None:
    app = served[0]
    assert f":{app.port}/?token={app.access.token}" in app.url

    async def visit(a: GuardedServer) -> tuple[int, int, int, str]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:  # keeps IP cookies
            async with client.get(f"http://127.0.0.1:{a.port}/?token=wrong", allow_redirects=False) as r:
                wrong = r.status
            async with client.get(a.url, allow_redirects=False) as r:
                first, location = r.status, r.headers.get("Location", "")
            async with client.get(f"http://127.0.0.1:{a.port}/index.html") as r:  # the cookie alone now
                page = r.status
        return wrong, first, page, location

    wrong, first, page, location = run(served, visit)
    assert (wrong, first, page) == (403, 302, 200)
    assert "token" not in location


def test_a_chunk_claiming_a_gigabyte_closes_the_connection_without_allocating(served) -> None:
    async def attack(a: GuardedServer) -> tuple[object, float, float]:
        async with aiohttp.ClientSession() as client:
            ws = await client.ws_connect(f"ws://127.0.0.1:{a.port}/ws?token={a.access.token}")
            await ws.send_bytes(_hello())
            await ws.receive(timeout=20)  # authenticated: wslink alone would now allow 4 GiB
            before = _rss_mb()
            await ws.send_bytes(_claiming(GIB))
            closed = await ws.receive(timeout=20)
            after = _rss_mb()
            await ws.close()
        return closed.type, before, after

    kind, before, after = run(served, attack)
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert after - before < 200, f"RSS {before:.0f} -> {after:.0f} MB"


def test_a_frame_over_the_bound_is_refused_by_the_socket(served) -> None:
    async def attack(a: GuardedServer) -> object:
        async with aiohttp.ClientSession() as client:
            ws = await client.ws_connect(f"ws://127.0.0.1:{a.port}/ws?token={a.access.token}")
            await ws.send_bytes(b"\0" * (MAX_MESSAGE_BYTES + 8192))
            kind = (await ws.receive(timeout=20)).type
            await ws.close()
            return kind

    assert run(served, attack) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def test_the_bounded_unchunker_refuses_before_allocating_and_counts_what_is_pending() -> None:
    chunker = BoundedUnChunker(limit=1000)
    chunker.set_max_message_size(4 * GIB)  # what wslink does after the hello
    with pytest.raises(MessageTooLargeError, match="claims 1073741824 bytes"):
        chunker.process_chunk(_claiming(GIB))
    assert chunker.process_chunk((1).to_bytes(4, "little") + bytes(4) + (600).to_bytes(4, "little") + b"x") is None
    with pytest.raises(MessageTooLargeError, match="600 pending"):  # many half-sent messages add up
        chunker.process_chunk((2).to_bytes(4, "little") + bytes(4) + (600).to_bytes(4, "little") + b"x")
    packed = msgpack.packb({"a": 1})
    assert BoundedUnChunker().process_chunk(next(generate_chunks(packed, 1 << 20))) == {"a": 1}


def test_the_origin_rule_accepts_only_the_page_and_listed_origins() -> None:
    policy = AccessPolicy(host="127.0.0.1", allow_origins=("http://localhost:3000",))
    assert policy.origin_allowed("http://localhost:8080", 8080, "localhost:8080")
    assert policy.origin_allowed("http://localhost:3000", 8080, "localhost:8080")
    assert not policy.origin_allowed("http://evil.example:8080", 8080, "evil.example:8080")  # DNS rebinding
    everywhere = AccessPolicy(host="0.0.0.0")
    assert everywhere.origin_allowed("http://10.0.0.5:8080", 8080, "10.0.0.5:8080")
    assert not everywhere.origin_allowed("http://evil.example", 8080, "10.0.0.5:8080")
    assert AccessPolicy().token != AccessPolicy().token


@pytest.mark.parametrize("origin", ["evil.example", "http://evil.example/path", "*"])
def test_allow_origin_takes_only_an_origin(origin, capsys) -> None:
    from LesionSegLogic.cli import main

    assert main(["app", "--allow-origin", origin]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--allow-origin takes an origin" in err
