"""The Playground's web server: the page, its assets, and one WebSocket per open tab, each with its own
training session (``session.py``).

Starlette on uvicorn: an ASGI server with WebSockets, two small, long-kept libraries (the same pair
FastAPI stands on) with a synchronous test client. Every request needs the token printed in the URL,
as Jupyter's do; the page's assets ship inside the package and the page works with the network off.

Messages from the page are JSON objects with a ``type``; each is checked here for its shape (size,
JSON, known type and fields) and then by zoo's own option checker in the session. A wrong one is
answered with an error message and the session goes on. What goes back: JSON text for states,
errors, statuses and recipes, binary snapshots for frames (``session.snapshot``).

What one client may hold, so that a slow or hostile one cannot lock others out (the limits below):
an HTTP request must arrive whole within ``REQUEST_TIMEOUT`` of its connection opening (or of the
previous response), however slowly its bytes trickle in; connections past ``MAX_CONNECTIONS``, or past
``MAX_CONNECTIONS_PER_CLIENT`` from one address, are answered 503 and closed at once; a page's messages
are read at ``MESSAGE_RATE`` a second at most (a flood waits in its own socket); a page that sends
nothing for ``IDLE_TIMEOUT`` gives its place back; and a request must name this server as its ``Host``
(when it listens on loopback) and come from a page of this server (``Origin``), against DNS rebinding
and cross-site WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from zoo.playground.session import (
    LIVE,
    MAX_EPOCHS_PER_FRAME,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_POINTS,
    MAX_STEPS_PER_FRAME,
    MODEL,
    PLAYGROUND_SETS,
    PLAYGROUND_START,
    Session,
    Turns,
)

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"playground.js": "text/javascript; charset=utf-8", "playground.css": "text/css; charset=utf-8"}
HEADERS = {
    # Everything the page loads or connects to comes from this server; the token stays out of referrers.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
MAX_MESSAGE = 16_384  # characters in one message from the page; its largest real one is about 1,000
MAX_SETTINGS = 64  # options in one settings message
MAX_OUTBOX = 256  # messages waiting for a slow page; past that the oldest go
DEFAULT_SESSIONS = 4

# Slow and hostile clients. uvicorn's own timeout_keep_alive runs only after a response, and its
# limit_concurrency answers 503 only once a request's head has arrived: neither closes a connection that
# sends half a request, or a header a byte at a time, so the HTTP protocol below (GuardedHTTP) does.
# Seconds for a whole HTTP request (head and body) to arrive, from its connection opening or the end of
# the previous response; trickling bytes do not extend it. A browser sends the page's requests (under 2 KB
# each) in one write: 10 s allows 200 bytes a second, slower than any link that works, and is the same
# order as Apache's mod_reqtimeout (20 s for the head) while holding a stalled socket half as long.
REQUEST_TIMEOUT = 10.0
# Seconds an idle keep-alive connection stays open after a response (uvicorn's default): the page's three
# requests come within milliseconds of each other, and a browser reconnects when it needs to.
KEEP_ALIVE_TIMEOUT = 5
# Open connections (HTTP and WebSocket) at once, and from one client address. A browser opens at most 6
# HTTP/1.1 connections to a server, plus one WebSocket a tab, and at most 16 tabs train (MAX_SESSIONS in
# __main__.py): 6 + 16 = 22 fit in 32 from one machine. 256 in all keeps the process far under the usual
# 1,024 file descriptors, with room for 8 clients at their limit. Past either, a connection is answered
# 503 and closed at once, so it holds no descriptor. (Every client of a server on loopback is 127.0.0.1:
# there the per-client limit is the limit.)
MAX_CONNECTIONS = 256
MAX_CONNECTIONS_PER_CLIENT = 32
# A request's head, in bytes (h11's default in uvicorn, stated): the page's largest is under 2 KB.
MAX_REQUEST_HEAD = 16_384
# Seconds between WebSocket pings, and for the pong (uvicorn's defaults, stated): a page whose machine
# vanished (a laptop closed, a network gone) is closed within 40 s and gives its place back.
WS_PING_SECONDS = 20.0

# Messages a page may send a second, after a burst: a person clicking the page's controls sends a few a
# second at most (its ranges send on release, not while dragged), and loading it sends two. Past that the
# server reads that page's messages at this pace and tells it once; the rest wait (uvicorn reads up to
# 256 KB ahead, then TCP holds the sender back) and cost the server next to nothing, so a flood does not
# take the other pages' time.
MESSAGE_RATE = 20.0
MESSAGE_BURST = 40
# How far behind a page's sending the server's reading may fall, in messages (5 s at the pace), before
# the page is closed (Pace.behind): what a person could never send, and what a script flooding sends at
# once. uvicorn reads a socket's data ahead of the app (up to 256 KB, thousands of small messages), so a
# page paced for ever would hold its place, and hide its own disconnect, for minutes.
MESSAGE_PATIENCE = 100
# Seconds without a message from a page before its session ends and its place is free for another
# (the page says so; a reload starts it again from its URL). The Playground's sets train in seconds to a
# couple of minutes (the spiral in about 20 s), so a page nobody has touched for 10 minutes is one
# nobody is watching: with 4 places, 4 forgotten tabs would otherwise lock everyone out for good.
IDLE_TIMEOUT = 600.0

# Message types from the page and the fields each may carry besides "type" and "seq".
KINDS = {
    "settings": ("settings",),
    "play": (),
    "pause": (),
    "step": (),
    "reset": (),
    "speed": ("epochs_per_frame",),
    "recipe": (),
}


class BadMessage(ValueError):
    """A message from the page that is not one the server takes; answered with one line."""


def loopback(address: str) -> bool:
    """Whether an IP address (``127.0.0.1``, ``::1``, ``::ffff:127.0.0.1``, ``[::1]``) is this machine's
    loopback. An IPv4-mapped IPv6 address is its IPv4 address (Python before 3.13 says otherwise)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def host_name(host: str) -> str:
    """A Host header's name without its port: ``127.0.0.1:8800`` -> ``127.0.0.1``, ``[::1]:8800`` -> ``::1``."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


class Guard:
    """ASGI middleware, Jupyter's checks: a request or WebSocket is refused (HTTP 403; a WebSocket is
    closed before it is accepted, which the browser sees as a failed connection) unless

    - its ``Host`` names this machine (``localhost`` or a loopback address) when the server listens on
      loopback: a page of another site whose name an attacker points at 127.0.0.1 (DNS rebinding)
      sends its own name. (On other interfaces anyone who can reach the server connects directly, and
      the Host is not checked, as in Jupyter.)
    - its ``Origin``, when it has one, is the server itself (its scheme and the request's Host): a
      browser sends the page's origin with every WebSocket, which no site may open here for another;
      clients that are not browsers send none.
    - it carries ``?token=`` equal to the server's.
    """

    def __init__(self, app: Any, token: str, local: bool):
        self.app, self.token, self.local = app, token, local

    def refusal(self, scope: dict[str, Any]) -> str | None:
        headers = {name: value.decode("latin-1") for name, value in scope.get("headers", [])}
        host = headers.get(b"host", "")
        name = host_name(host)
        if self.local and host and not (name.lower() == "localhost" or loopback(name)):
            return f"403: zoo.playground serves this machine only: open it as localhost or 127.0.0.1, not {name[:80]}"
        origin = headers.get(b"origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
                return f"403: a page from {origin[:80]} may not use zoo.playground at {host[:80]}"
        given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "403: this page needs the token printed by zoo.playground"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            refused = self.refusal(scope)
            if refused is not None:
                if scope["type"] == "http":
                    await PlainTextResponse(refused, 403)(scope, receive, send)
                else:
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 4403})
                return
        await self.app(scope, receive, send)


REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    b"Content-Length: 62\r\n\r\n503: too many connections to zoo.playground; try again shortly\n"
)


def guarded_http(
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    max_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request and a cap on connections, for
    one server: its open connections are counted here, WebSockets included (a WebSocket keeps the
    transport its HTTP request came on)."""
    transports: dict[asyncio.BaseTransport, str] = {}  # this server's open connections and their client

    class GuardedHTTP(H11Protocol):
        deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            for other in [t for t in transports if t.is_closing()]:
                del transports[other]
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if peer else ""
            from_client = sum(1 for c in transports.values() if c == client)
            if len(transports) >= max_connections or from_client >= max_per_client:
                transport.write(REFUSED)
                transport.close()
                return
            transports[transport] = client
            self.arm()

        def arm(self) -> None:
            self.disarm()
            self.deadline = self.loop.call_later(request_timeout, self.too_slow)

        def disarm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

        def too_slow(self) -> None:
            """The request has not arrived whole in time: close the connection (no response: the client
            is not reading one)."""
            self.deadline = None
            if self.transport.get_protocol() is self and not self.transport.is_closing():
                self.transport.close()

        def received_whole(self) -> bool:
            return self.transport.get_protocol() is not self or self.conn.their_state in (
                h11.DONE,
                h11.MUST_CLOSE,
                h11.CLOSED,
                h11.MIGHT_SWITCH_PROTOCOL,
                h11.SWITCHED_PROTOCOL,
            )

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.deadline is not None and self.received_whole():
                self.disarm()  # the request is in (or the connection is a WebSocket now)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.received_whole():
                self.arm()  # the next request, or the rest of this one's body, has its own deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm()
            super().connection_lost(exc)

    return GuardedHTTP


def make_server(app: Starlette, **limits: Any) -> uvicorn.Server:
    """The uvicorn server ``python -m zoo.playground`` runs ``app`` with; ``limits``: ``guarded_http``'s."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            http=guarded_http(**limits),
            log_level="warning",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
            ws_max_size=4 * MAX_MESSAGE,  # bytes: a longer message closes the connection
            ws_ping_interval=WS_PING_SECONDS,
            ws_ping_timeout=WS_PING_SECONDS,
            timeout_graceful_shutdown=2,
        )
    )


class Pace:
    """A page's messages, read at most ``rate`` a second after a burst of ``burst`` (a token bucket);
    ``behind``: how far behind the page's sending the reading is, in messages: one up for a message that
    had to wait, one down for one that did not. (Not reset by one that did not: on a busy machine the
    server reads a flood slower than the pace now and then, and the flood has not stopped.)"""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.rate, self.burst, self.clock, self.sleep = rate, burst, clock, sleep
        self.tokens, self.last, self.behind = float(burst), clock(), 0

    async def take(self) -> bool:
        """Wait until the next message may be read; whether it had to wait."""
        waited = False
        while True:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1 - 1e-9:  # (a sleep of exactly the time a token takes may come back a hair short)
                self.tokens = max(0.0, self.tokens - 1)
                self.behind = self.behind + 1 if waited else max(0, self.behind - 1)
                return waited
            waited = True
            await self.sleep((1 - self.tokens) / self.rate)


class Outbox:
    """Messages for one page, put from any thread, sent in order by the page's WebSocket task. A
    snapshot (bytes) not sent yet is replaced by a newer one: a slow page sees the newest frame."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: deque[str | bytes] = deque(maxlen=MAX_OUTBOX)
        self.ready = asyncio.Event()

    def put(self, message: dict[str, Any] | bytes) -> None:
        """From a session's thread."""
        item = message if isinstance(message, bytes) else json.dumps(message)
        with contextlib.suppress(RuntimeError):  # the loop has closed: the page is gone
            self.loop.call_soon_threadsafe(self.put_here, item)

    def put_here(self, item: str | bytes) -> None:
        """From the event loop's own thread."""
        if isinstance(item, bytes) and self.items and isinstance(self.items[-1], bytes):
            self.items[-1] = item
        else:
            self.items.append(item)
        self.ready.set()

    async def deliver(self, websocket: WebSocket) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.items:
                item = self.items.popleft()
                if isinstance(item, bytes):
                    await websocket.send_bytes(item)
                else:
                    await websocket.send_text(item)


class Sessions:
    """The open pages' sessions: at most ``limit`` at once, taking turns (``session.Turns``)."""

    def __init__(self, limit: int, initial: dict[str, Any], base: Sequence[str]):
        self.limit, self.initial, self.base = limit, dict(initial), list(base)
        self.open: set[Session] = set()
        self.turns = Turns()

    def start(self, send: Any) -> Session | None:
        if len(self.open) >= self.limit:
            return None
        session = Session(send, initial=self.initial, base=self.base, turns=self.turns)
        self.open.add(session)
        return session

    def end(self, session: Session) -> None:
        session.close()
        self.open.discard(session)

    def close_all(self, timeout: float = 5.0) -> None:
        for session in list(self.open):
            self.end(session)
            session.thread.join(timeout)


def parse(message: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket message from the page -> a checked ``{"type", "seq", ...}`` dict, or BadMessage."""
    text = message.get("text")
    if text is None:
        raise BadMessage("messages are JSON text, not binary")
    if len(text) > MAX_MESSAGE:
        raise BadMessage(f"a message of {len(text)} characters; at most {MAX_MESSAGE}")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise BadMessage(f"not JSON: {str(err)[:200]}") from None
    if not isinstance(data, dict):
        raise BadMessage('a message is a JSON object with a "type"')
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in KINDS:
        raise BadMessage(f"unknown message type {str(kind)[:40]!r} (known: {', '.join(KINDS)})")
    extra = set(data) - {"type", "seq", *KINDS[kind]}
    if extra:
        raise BadMessage(f"a {kind!r} message has no field {sorted(extra)[0][:40]!r}")
    seq = data.get("seq")
    if seq is not None and not (type(seq) is int and 0 <= seq < 2**53):
        raise BadMessage("seq must be a whole number from 0 up")
    if kind == "settings":
        settings = data.get("settings")
        if not isinstance(settings, dict):
            raise BadMessage('a settings message needs "settings": an object of options, e.g. {"optimizer.lr": 0.03}')
        if len(settings) > MAX_SETTINGS:
            raise BadMessage(f"{len(settings)} settings in one message; at most {MAX_SETTINGS}")
    if kind == "speed":
        epochs = data.get("epochs_per_frame")
        if type(epochs) is not int or not 1 <= epochs <= MAX_EPOCHS_PER_FRAME:
            raise BadMessage(f"epochs_per_frame must be a whole number from 1 to {MAX_EPOCHS_PER_FRAME}")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number the playground takes")


def hello(sessions: Sessions) -> dict[str, Any]:
    """What the page needs to draw its controls: zoo's choices (every activation, initialiser,
    optimizer, loss and data set it has), which options each optimizer takes, the limits, the
    settings that change live, and where it starts."""
    from zoo.data.tabular import PLAYGROUND_FEATURES
    from zoo.nn.activations import ACTIVATIONS
    from zoo.nn.init import INITIALIZERS
    from zoo.registry import OPTIMIZERS
    from zoo.schema import live_sections as sections
    from zoo.tasks.classification import LOSSES

    section = sections(MODEL)["optimizer"]  # what zoo's checker accepts for each optimizer
    optimizers = {name: sorted(section.params(name)) for name in OPTIMIZERS.names()}
    return {
        "type": "hello",
        "settings": sessions.initial,
        "base": sessions.base,
        "choices": {
            "data.name": list(PLAYGROUND_SETS),
            "data.features": list(PLAYGROUND_FEATURES),
            "model.activation": ACTIVATIONS.names(),
            "model.weight_init": INITIALIZERS.names(),
            "model.bias_init": INITIALIZERS.names(),
            "optimizer.name": list(optimizers),
            "task.loss": list(LOSSES),
        },
        "optimizer_options": optimizers,
        "live": list(LIVE),
        "limits": {
            "points": MAX_POINTS,
            "layers": MAX_LAYERS,
            "neurons": MAX_NEURONS,
            "epochs_per_frame": MAX_EPOCHS_PER_FRAME,
            "steps_per_frame": MAX_STEPS_PER_FRAME,
            "sessions": sessions.limit,
        },
    }


def make_app(
    token: str,
    *,
    initial: dict[str, Any] | None = None,
    base: Sequence[str] = (),
    max_sessions: int = DEFAULT_SESSIONS,
    local: bool = True,
    idle_timeout: float = IDLE_TIMEOUT,
    message_rate: float = MESSAGE_RATE,
    message_burst: int = MESSAGE_BURST,
) -> Starlette:
    """The Playground's ASGI app. ``initial``: the page's settings when its URL carries none (the
    Playground's start by default); ``base``: recipes (``--config``) under the page's settings;
    ``local``: the server listens on loopback only (requests must name it so: ``Guard``)."""
    sessions = Sessions(max_sessions, PLAYGROUND_START if initial is None else initial, base)
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__TOKEN__", token)

    async def index(request: Any) -> Response:
        return HTMLResponse(page, headers=HEADERS)

    async def asset(request: Any) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("404: no such file", 404)
        return Response((STATIC / name).read_bytes(), media_type=ASSETS[name], headers=HEADERS)

    async def refuse(websocket: WebSocket, message: str, code: int) -> None:
        await websocket.send_text(json.dumps({"type": "error", "fatal": True, "message": message}))
        await websocket.close(code=code)

    async def play(websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = Outbox(asyncio.get_running_loop())
        session = sessions.start(outbox.put)
        if session is None:
            message = (
                f"{sessions.limit} pages are training already, the most this server runs at once: close one "
                "of them (or start zoo.playground with a higher --max-sessions)"
            )
            await refuse(websocket, message, 1013)  # "try again later"
            return
        outbox.put_here(json.dumps(hello(sessions)))
        sender = asyncio.create_task(outbox.deliver(websocket))
        pace, told = Pace(message_rate, message_burst), False
        try:
            while True:
                if await pace.take() and not told:  # the page's next messages wait in its socket meanwhile
                    told = True
                    outbox.put_here(json.dumps({"type": "error", "message": too_fast(message_rate)}))
                if pace.behind > MESSAGE_PATIENCE:
                    await sender_done(sender)
                    await refuse(websocket, flooded(message_rate), 1008)  # "policy violation"
                    break
                try:
                    message = await asyncio.wait_for(websocket.receive(), idle_timeout)
                except asyncio.TimeoutError:
                    await sender_done(sender)
                    await refuse(websocket, idle(idle_timeout), 4408)
                    break
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    data = parse(message)
                except BadMessage as err:
                    outbox.put_here(json.dumps({"type": "error", "message": str(err)}))
                    continue
                value = data.get("settings", data.get("epochs_per_frame"))
                session.post(data["type"], data.get("seq"), value)
        except WebSocketDisconnect:
            pass
        finally:
            sessions.end(session)  # closing the tab stops its training; the thread ends at its next step
            await sender_done(sender)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        sessions.close_all()

    app = Starlette(
        routes=[Route("/", index), Route("/static/{name}", asset), WebSocketRoute("/ws", play)],
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    app.add_middleware(Guard, token=token, local=local)
    return app


async def sender_done(sender: asyncio.Task) -> None:
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await sender


def too_fast(rate: float) -> str:
    return (
        f"this page sends more than {rate:g} messages a second: the server reads them at that pace, "
        "so what you do now shows late"
    )


def flooded(rate: float) -> str:
    return (
        f"this page was closed: it kept sending more than {rate:g} messages a second, more than a person "
        "clicking does (reload it to train again)"
    )


def idle(seconds: float) -> str:
    return (
        f"this page was closed after {seconds / 60:g} minutes without a change, to free its place for others: "
        "reload it to train again (its address keeps the settings)"
    )
