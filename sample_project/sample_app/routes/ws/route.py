from fastapi import WebSocket, WebSocketDisconnect


async def WEBSOCKET(websocket: WebSocket, name: str = "guest") -> None:
    """Echo each message back, signed with the caller's name (?name=...)."""
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{name}: {text}")
    except WebSocketDisconnect:
        pass
