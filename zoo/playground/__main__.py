"""``python -m zoo.playground``: the TensorFlow Playground in the browser, training zoo's real MLP.

    python -m zoo.playground                      # prints http://127.0.0.1:8800/?token=...
    python -m zoo.playground --open --port 0      # any free port, and open the browser
    python -m zoo.playground --config mlp         # start from a recipe's settings

A local web server: it listens on 127.0.0.1 unless told otherwise, and every request needs the random
token in the printed URL. Ctrl-C stops it, and the training of every open page with it.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
import threading
import time
from typing import Any

from zoo.commands import OneLineParser, command_main
from zoo.errors import UsageError

PROG = "zoo.playground"
DEFAULT_PORT = 8800
MAX_SESSIONS = 16


def parse_args(argv: list[str]) -> Any:
    parser = OneLineParser(
        prog=f"python -m {PROG}",
        description="The TensorFlow Playground in the browser, training zoo's MLP with every knob zoo has.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one")
    parser.add_argument(
        "--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only); 0.0.0.0 listens on every interface"
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="RECIPE",
        help="start from a recipe (a YAML file or a shipped recipe's name, as zoo.train takes); repeatable",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=4, help="pages that may train at once (default 4, at most 16)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks (also ZOO_DEBUG=1)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not 1 <= args.max_sessions <= MAX_SESSIONS:
        raise UsageError(f"--max-sessions must be between 1 and {MAX_SESSIONS}, got {args.max_sessions}")
    return args


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server starts: a port in use is one line here, and the
    printed URL has the port a 0 picked."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as err:
        raise UsageError(f"--host {host}: {err.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host} port {port} ({err.strerror}); --port 0 picks a free port") from None
    sock.listen(128)
    return sock


def where(host: str, bound: str, port: int, token: str) -> tuple[str, str | None]:
    """The URL to print for a server bound to ``bound`` (``--host host``), and the warning to print
    with it when other machines can reach it (None on loopback). An IPv4-mapped address (``::ffff:127.0.0.1``,
    ``::ffff:0.0.0.0``) is its IPv4 address, which is also how a browser reaches it."""
    ip = ipaddress.ip_address(bound.split("%")[0])
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if ip.is_loopback:
        local, warning = str(ip), None
    else:
        local = "127.0.0.1" if ip.is_unspecified else str(ip)  # (0.0.0.0 and :: take loopback too)
        reach = "every network interface" if ip.is_unspecified else f"a network interface ({ip})"
        warning = (
            f"{PROG}: warning: --host {host} listens on {reach}: anyone who can reach this machine on port {port} "
            "and learns the token can train here; keep the URL to yourself"
        )
    return f"http://{f'[{local}]' if ':' in local else local}:{port}/?token={token}", warning


def main(argv: list[str] | None = None) -> int:
    try:
        return command_main(PROG, argv, serve)
    except KeyboardInterrupt:  # Ctrl-C before the server runs (importing torch and Lightning takes seconds)
        print(f"{PROG}: stopped", file=sys.stderr)
        return 130


def serve(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        from zoo.playground.server import loopback, make_app, make_server
    except ImportError as err:
        raise UsageError(f"zoo.playground needs {err.name}: pip install 'zoo[playground]'") from None
    from zoo.playground.session import resolve

    initial = None
    if args.config:
        initial = {}  # the recipes themselves, under the page's settings
        resolve(initial, args.config)  # a wrong recipe is one line now, not an error on the page
    token = secrets.token_hex(24)
    sock = listen(args.host, args.port)
    bound, port = sock.getsockname()[:2]
    url, warning = where(args.host, bound, port, token)
    if warning:
        print(warning, file=sys.stderr)
    app = make_app(token, initial=initial, base=args.config, max_sessions=args.max_sessions, local=loopback(bound))
    server = make_server(app)
    print(f"{PROG}: the Playground on zoo's MLP, at\n\n    {url}\n\n(Ctrl-C stops it)", flush=True)
    if args.open:
        threading.Thread(target=open_when_ready, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again
        pass
    finally:
        app.state.sessions.close_all()
        sock.close()
    print(f"{PROG}: stopped", file=sys.stderr)
    return 0


def open_when_ready(server: Any, url: str) -> None:
    import webbrowser

    for _ in range(600):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
