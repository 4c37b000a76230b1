"""Whether requests are being served in this process: the warm-up gives way to them.

Every file route's request (`FileAPIRoute.handle`) counts itself in, and out when its
response starts (`serving`): a streamed response, a long poll or a websocket-like SSE stream
is not "under way" for the length of its body, or the warm-up would crawl while one is open.
The warm-up
(`OnDemandRoutes._slices`) starts a slice only once no request has been under way for QUIET
seconds, so that a client sending request after request is not kept waiting behind
registration between two of them; it runs one anyway after STARVED seconds without, so that
it ends under steady load too (and makes every route real, as it must).
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

QUIET = 0.001
STARVED = 0.020
_STEP = 0.0005  # how often a waiting warm-up looks again


class Activity:
    """Requests under way, and when the last one ended (perf_counter seconds)."""

    def __init__(self) -> None:
        self.under_way = 0
        self.last_end = 0.0

    def begin(self) -> None:
        self.under_way += 1

    def end(self) -> None:
        self.under_way -= 1
        self.last_end = time.perf_counter()

    async def serving(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run `app` counted in, until it starts its response (or ends without one)."""
        counted = True
        self.begin()

        async def sending(message: Message) -> None:
            nonlocal counted
            if counted and message["type"] == "http.response.start":
                counted = False
                self.end()
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            if counted:
                self.end()

    def idle(self) -> bool:
        return self.under_way == 0 and time.perf_counter() - self.last_end >= QUIET

    async def wait_idle(self) -> None:
        """Until no request has been under way for QUIET seconds, or STARVED seconds."""
        give_up = time.perf_counter() + STARVED
        while not self.idle() and time.perf_counter() < give_up:
            await asyncio.sleep(_STEP)


REQUESTS = Activity()
