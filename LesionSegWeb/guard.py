"""Who may talk to the web app, and how much: the Origin check, the per-launch secret and the message bound.

Issue 18 items 1 and 2. Any page the user opens in the same browser can send requests to ``127.0.0.1``, and
WebSockets are not covered by the browser's same-origin policy: the server must check the ``Origin`` header
itself. And a wslink chunk header may claim a message of 4 GiB, which wslink's un-chunker allocates before the
content arrives.

- **Origin**: a request whose ``Origin`` header is not the page's own origin (``http://127.0.0.1:PORT``,
  ``http://localhost:PORT``, ``http://[::1]:PORT``, the ``--host`` name) or one given with ``--allow-origin`` is
  refused (403) before any handler runs — the WebSocket upgrade included.
- **Secret**: a per-launch random token, as Jupyter's: the app prints ``http://127.0.0.1:PORT/?token=…``; that
  request sets an ``HttpOnly``, ``SameSite=Strict`` cookie and redirects to the page without the token in the
  address. Every later request (page files, the WebSocket) needs the cookie or ``?token=``.
- **Size**: the WebSocket takes frames of at most :data:`MAX_MESSAGE_BYTES` (aiohttp's ``max_msg_size``), and
  wslink's un-chunker is replaced per connection by :class:`BoundedUnChunker`, which refuses a chunk header
  claiming more (or more pending in all) before allocating; the connection is then closed.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from wslink.chunking import HEADER_LENGTH, UnChunker

log = logging.getLogger(__name__)

#: The largest client message (state changes and triggers are a few hundred bytes; 1 MiB leaves room).
MAX_MESSAGE_BYTES = 1 << 20
#: Room for the wslink chunk header and msgpack framing on top of a message.
_FRAME_OVERHEAD = 4096
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # names we compare against, not a bind
_HEADER = struct.Struct("<III")  # wslink chunk header: message id, offset, total size


#: The line ``lesionseg app`` prints when it listens; scripts read the address (with the secret) from it.
URL_LINE = "LesionSeg review: open "


def printed_url(lines: Iterable[str]) -> str | None:
    """The address from the app's output (its stdout, line by line); ``None`` when it ended without one."""
    for line in lines:
        if line.startswith(URL_LINE):
            return line[len(URL_LINE):].strip()
    return None


class MessageTooLargeError(ValueError):
    """A chunk header claimed a message larger than the bound (or more pending than it)."""


class BoundedUnChunker(UnChunker):
    """wslink's un-chunker with a hard bound: a message (and all messages still being assembled together) may
    claim at most ``limit`` bytes; a larger claim is refused before the buffer is allocated. wslink raises the
    bound to 4 GiB after the hello: :meth:`set_max_message_size` keeps it at ``limit``."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        super().__init__()
        self.limit = limit
        self.max_message_size = min(self.max_message_size, limit)

    def set_max_message_size(self, size: int) -> None:
        super().set_max_message_size(min(int(size), self.limit))

    def process_chunk(self, chunk: bytes) -> Any:
        if len(chunk) < HEADER_LENGTH:
            raise MessageTooLargeError(f"a chunk of {len(chunk)} bytes has no complete header")
        message_id, _, total = _HEADER.unpack_from(chunk)
        if message_id not in self.pending_messages:
            pending = sum(len(m["content"]) for m in self.pending_messages.values())
            if total > self.max_message_size or pending + total > self.limit:
                raise MessageTooLargeError(f"a client message claims {total} bytes ({pending} pending); the "
                                           f"limit is {self.max_message_size}")
        return super().process_chunk(chunk)


def _origin(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class AccessPolicy:
    """The rules one app applies to every HTTP request and WebSocket connection (see the module's docstring)."""

    host: str = "127.0.0.1"
    #: Origins allowed besides the page's own (``--allow-origin``), e.g. ``http://localhost:3000``.
    allow_origins: tuple[str, ...] = ()
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def url(self, port: int) -> str:
        """The address to open: the page with the secret (printed at start)."""
        return f"{_origin('127.0.0.1' if self.host in _WILDCARD_HOSTS else self.host, port)}/?" + \
            urlencode({"token": self.token})

    def cookie_name(self, port: int) -> str:
        return f"lesionseg-token-{port}"  # one per port: two apps on one machine keep their own

    def origin_allowed(self, origin: str, port: int, host_header: str) -> bool:
        own = {_origin(name, port) for name in (*_LOOPBACK_NAMES, self.host)}
        if self.host in _WILDCARD_HOSTS:  # listening everywhere: the page's address is whatever the user typed
            own.add(f"http://{host_header}")
        return origin.rstrip("/") in own | {o.rstrip("/") for o in self.allow_origins}

    def token_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    # ------------------------------------------------------------------------------------------ aiohttp
    def install(self, web_server: Any) -> None:
        """Guard a wslink aiohttp ``WebAppServer`` (trame's ``on_server_bind``): before it starts."""
        ws_handlers = list(getattr(web_server, "_ws_handlers", []))
        web_server.app.middlewares.append(self._middleware(ws_handlers))

    def _middleware(self, ws_handlers: list[Any]) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            port = _local_port(request)
            origin = request.headers.get("Origin")
            if origin is not None and not self.origin_allowed(origin, port, request.host):
                log.warning("refused a request from origin %s", origin)
                return web.Response(status=403, text=f"lesionseg app: requests from {origin} are refused "
                                                     "(start the app with --allow-origin to allow it)\n")
            query_token = request.query.get("token")
            if not (self.token_matches(query_token) or self.token_matches(request.cookies.get(self.cookie_name(port)))):
                return web.Response(status=403, text="lesionseg app: open the address `lesionseg app` printed "
                                                     "(with its ?token=...)\n")
            ws_handler = getattr(request.match_info.handler, "__self__", None)
            if ws_handler is not None and ws_handler in ws_handlers:
                return await self._serve_websocket(request, ws_handler)
            if query_token is not None and request.method == "GET":
                rest = {k: v for k, v in request.query.items() if k != "token"}
                response = web.Response(status=302, headers={
                    "Location": request.path + (f"?{urlencode(rest)}" if rest else "")})
                response.set_cookie(self.cookie_name(port), self.token, httponly=True, samesite="Strict",
                                    path="/")
                return response
            return await handler(request)

        return guard

    async def _serve_websocket(self, request: Any, handler: Any) -> Any:
        """wslink's ``AioHttpWsHandler.handleWsRequest`` with the frame size and the un-chunker bounded."""
        import aiohttp
        from aiohttp import web

        client_id = uuid.uuid4().hex
        ws = web.WebSocketResponse(max_msg_size=self.max_message_bytes + _FRAME_OVERHEAD, heartbeat=30,
                                   compress=handler.web_app.ws_compress)
        handler.connections[client_id] = ws
        handler.web_app.shutdown_cancel()
        try:
            await ws.prepare(request)
            await handler.onConnect(request, client_id)
            handler.unchunkers[client_id] = BoundedUnChunker(self.max_message_bytes)
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
                try:
                    await handler.onMessage(msg.type == aiohttp.WSMsgType.BINARY, msg, client_id)
                except MessageTooLargeError as error:
                    log.warning("closing client %s: %s", client_id, error)
                    await ws.close(code=aiohttp.WSCloseCode.MESSAGE_TOO_BIG, message=b"message too large")
                    break
        finally:
            if client_id in handler.unchunkers:
                await handler.onClose(client_id)
            handler.connections.pop(client_id, None)
            handler.authentified_client_ids.discard(client_id)
            if not handler.connections:
                handler.web_app.shutdown_schedule()
        return ws


def _local_port(request: Any) -> int:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return int(sockname[1]) if sockname else 0
