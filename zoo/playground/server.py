"""The Playground's web server: the page, its assets, and one WebSocket per open tab, each with its own
training session (``session.py``).

Starlette on uvicorn: an ASGI server with WebSockets, two small, long-kept libraries (the same pair
FastAPI stands on) with a synchronous test client. Every request needs the token printed in the URL,
as Jupyter's do; the page's assets ship inside the package and the page works with the network off.

Messages from the page are JSON objects with a ``type``; each is checked here for its shape (size,
JSON, known type and fields) and then by zoo's own option checker in the session. A wrong one is
answered with an error message and the session goes on. What goes back: JSON text for states,
errors, statuses and recipes, binary snapshots for frames (``session.snapshot``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

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


class TokenGuard:
    """ASGI middleware: a request or WebSocket without ``?token=`` equal to the server's is refused
    (HTTP 403; a WebSocket is closed before it is accepted, which the browser sees as a 403)."""

    def __init__(self, app: Any, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                if scope["type"] == "http":
                    response = PlainTextResponse("403: this page needs the token printed by zoo.playground", 403)
                    await response(scope, receive, send)
                else:
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 4403})
                return
        await self.app(scope, receive, send)


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
    """The open pages' sessions: at most ``limit`` at once."""

    def __init__(self, limit: int, initial: dict[str, Any], base: Sequence[str]):
        self.limit, self.initial, self.base = limit, dict(initial), list(base)
        self.open: set[Session] = set()

    def start(self, send: Any) -> Session | None:
        if len(self.open) >= self.limit:
            return None
        session = Session(send, initial=self.initial, base=self.base)
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
) -> Starlette:
    """The Playground's ASGI app. ``initial``: the page's settings when its URL carries none (the
    Playground's start by default); ``base``: recipes (``--config``) under the page's settings."""
    sessions = Sessions(max_sessions, PLAYGROUND_START if initial is None else initial, base)
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__TOKEN__", token)

    async def index(request: Any) -> Response:
        return HTMLResponse(page, headers=HEADERS)

    async def asset(request: Any) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("404: no such file", 404)
        return Response((STATIC / name).read_bytes(), media_type=ASSETS[name], headers=HEADERS)

    async def play(websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = Outbox(asyncio.get_running_loop())
        session = sessions.start(outbox.put)
        if session is None:
            await websocket.send_text(
                json.dumps(
                    {
                        "type": "error",
                        "fatal": True,
                        "message": f"{sessions.limit} pages are training already, the most this server runs at "
                        "once: close one of them (or start zoo.playground with a higher --max-sessions)",
                    }
                )
            )
            await websocket.close(code=1013)  # "try again later"
            return
        outbox.put_here(json.dumps(hello(sessions)))
        sender = asyncio.create_task(outbox.deliver(websocket))
        try:
            while True:
                message = await websocket.receive()
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
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        sessions.close_all()

    app = Starlette(
        routes=[Route("/", index), Route("/static/{name}", asset), WebSocketRoute("/ws", play)],
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    app.add_middleware(TokenGuard, token=token)
    return app
