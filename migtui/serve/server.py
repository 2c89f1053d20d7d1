"""The app in a browser: textual-serve's server with a token, a visitor cap and quiet logs.

``textual-serve`` starts one app process per visitor (per websocket). On top of it:

* **Token.** Every request needs the token: ``?token=...`` on the page (which then sets an
  HttpOnly, SameSite=Strict cookie, so the page's scripts and its websocket carry it), or
  that cookie. A wrong or missing token gets 403; the attempt is logged with the client's
  address and path, never with the token or the query string.
* **Cap.** At most ``max_visitors`` app processes at once; one more visitor gets a page
  (503) that says the seats are taken, and no process is started.
* **Logs.** aiohttp's access log would print the request line, token included: it is off,
  and the middleware logs method, path (no query) and status instead.
* **URLs.** The page's script, style and websocket URLs are built from the host the
  visitor used, so a token cookie set for that host is sent back with them.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

log = logging.getLogger("migtui.serve")

COOKIE = "migtui_token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FULL_PAGE = """<!DOCTYPE html>
<html><head><title>migtui: all seats taken</title></head>
<body style="background:#0c181f;color:#eee;font-family:monospace;padding:3em">
<h1>All {cap} seats are taken</h1>
<p id="migtui-full">This migtui walkthrough serves at most {cap} visitor(s) at once, and
{active} are watching now. Try again in a minute, when someone leaves.</p>
</body></html>
"""


def new_token() -> str:
    return secrets.token_urlsafe(24)


class MigtuiServer(Server):
    """``Server(command, ...)`` with ``token`` (required on every request) and
    ``max_visitors``. Serve on an already bound ``sock`` with ``serve_on(sock)``."""

    def __init__(self, command: str, *, token: str, max_visitors: int = 3,
                 title: str = "migtui", host: str = "127.0.0.1", port: int = 8000) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.max_visitors = max_visitors
        self.active = 0
        self.refused = 0  # requests refused for a wrong or missing token
        self._seats = asyncio.Lock()

    # ------------------------------------------------------------ the web app

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    def _authorized(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or "?"
        if not self._authorized(request):
            self.refused += 1
            why = "wrong token" if (request.query.get("token")
                                    or request.cookies.get(COOKIE)) else "no token"
            log.warning("refused %s %s from %s: %s", request.method, request.path, peer, why)
            return web.Response(status=403, text="403: this migtui server needs its token "
                                                 "in the URL (?token=...)\n")
        response = await handler(request)
        if request.query.get("token") and isinstance(response, web.Response):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict",
                                path="/")
        log.info("%s %s from %s: %s", request.method, request.path, peer, response.status)
        return response

    # ------------------------------------------------------------ the page

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self.active >= self.max_visitors:
            return web.Response(status=503, content_type="text/html",
                                text=FULL_PAGE.format(cap=self.max_visitors,
                                                      active=self.active))
        base = f"{request.scheme}://{request.host}"
        ws = ("wss:" if request.scheme == "https" else "ws:") + base.split(":", 1)[1] + "/ws"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": ws,
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        async with self._seats:
            if self.active >= self.max_visitors:
                log.warning("visitor cap of %d reached: refused a visitor", self.max_visitors)
                return web.Response(status=503, text=f"all {self.max_visitors} seats are "
                                                     f"taken; try again later\n")
            self.active += 1
        log.info("visitor joined (%d of %d seats taken)", self.active, self.max_visitors)
        try:
            return await super().handle_websocket(request)
        finally:
            self.active -= 1
            log.info("visitor left (%d of %d seats taken)", self.active, self.max_visitors)

    # ------------------------------------------------------------ serving

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo and the URL without the token here: say nothing."""

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    def serve_on(self, sock: socket.socket) -> None:
        """Serve until SIGINT/SIGTERM on a socket the caller bound (so a port in use is the
        caller's clear error, before anything starts)."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), sock=sock, handle_signals=False, loop=loop,
                    access_log=None, print=lambda *_a: None)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; OSError when it is in use."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _c, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def describe(sock: socket.socket) -> tuple[str, int]:
    host, port, *_rest = sock.getsockname()
    return str(host), int(port)


__all__ = ["COOKIE", "MigtuiServer", "bind", "describe", "new_token"]
