"""WEBSOCKET /items/{item_id}/ws: echoes each message, for a session cookie or a token.

A client without either is refused with policy violation (1008) before the socket is
accepted; a `q` that is not an integer is refused the same way, by FastAPI's validation.
"""

from typing import Annotated

from fastapi import Cookie, Depends, Query, WebSocket, WebSocketException, status


async def get_cookie_or_token(
    websocket: WebSocket,
    session: Annotated[str | None, Cookie()] = None,
    token: Annotated[str | None, Query()] = None,
):
    if session is None and token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return session or token


async def WEBSOCKET(
    websocket: WebSocket,
    item_id: str,
    cookie_or_token: Annotated[str, Depends(get_cookie_or_token)],
    q: int | None = None,
):
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        await websocket.send_text(f"Session cookie or query token value is: {cookie_or_token}")
        if q is not None:
            await websocket.send_text(f"Query parameter q is: {q}")
        await websocket.send_text(f"Message text was: {data}, for item ID: {item_id}")
