"""GET / -> a page that opens the item websocket and shows what it answers."""

from fastapi import Request
from fastapi.responses import HTMLResponse

PAGE = """<!DOCTYPE html>
<html>
<head><title>Item chat</title></head>
<body>
  <h1>Item chat</h1>
  <form id="connect">
    <label>Item ID <input id="item" value="foo" autocomplete="off"></label>
    <label>Token <input id="token" value="some-key-token" autocomplete="off"></label>
    <button>Connect</button>
  </form>
  <form id="send">
    <label>Message <input id="text" autocomplete="off"></label>
    <button>Send</button>
  </form>
  <ul id="log"></ul>
  <script>
    let socket = null;
    const value = (id) => document.getElementById(id).value;
    document.getElementById("connect").onsubmit = (event) => {
      event.preventDefault();
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const item = encodeURIComponent(value("item"));
      const token = encodeURIComponent(value("token"));
      socket = new WebSocket(`${scheme}://${location.host}/items/${item}/ws?token=${token}`);
      socket.onmessage = (message) => {
        const line = document.createElement("li");
        line.textContent = message.data;
        document.getElementById("log").appendChild(line);
      };
    };
    document.getElementById("send").onsubmit = (event) => {
      event.preventDefault();
      if (socket) socket.send(value("text"));
      document.getElementById("text").value = "";
    };
  </script>
</body>
</html>
"""


async def GET(request: Request):
    return HTMLResponse(PAGE)
