"""An explanation written out: `render` for a reader, `to_json` for tools.

The text shows every URL, segment, value, file and message through `errors.printable`: a
request's URL is anyone's text, and `explain GET '/a/%1b%5b2J'` must not clear the terminal
(values are shown with `repr`, which escapes them too). The JSON keeps them exact (`json.dumps`
escapes control characters and lone surrogates itself).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from ..errors import printable
from .model import Explanation, RouteRef


def to_json(explanation: Explanation) -> str:
    """The explanation for tools: one JSON object, keys in a fixed order."""
    data = asdict(explanation)
    data["answered_by"] = explanation.answered_by
    return json.dumps(data, indent=2, default=str)


def _where(ref: RouteRef) -> str:
    at = None if ref.file is None else printable(
        f"{ref.file}:{ref.line}" if ref.line is not None else ref.file)
    if ref.name is None:  # a file route, docs.py's page, or an entry nothing describes
        return at or (f"the app's own route {printable(ref.path)}" if ref.path
                      else "an entry of the app's router")
    return f"the app's own route {printable(ref.name)}" + (f", defined at {at}" if at else "")


def render(e: Explanation) -> str:
    """The explanation for a reader."""
    out = [f"{e.method} {printable(e.url)}"]
    ref = e.route
    if e.outcome in ("route", "app_route") and ref is not None:
        shown = (f"  ({ref.method} {printable(ref.path)})" if ref.method or ref.path else "")
        out.append(f"  answered by {_where(ref)}{shown}")
        if e.error:
            out.append("  but it cannot be served: the app answers 500")
            out.append(f"  {printable(e.error)}")
            if e.hint:
                out.append(f"  hint: {printable(e.hint)}")
    elif e.outcome == "method_not_allowed" and ref is not None:
        out.append(f"  405 Method Not Allowed: {printable(ref.path)} is served "
                   f"({_where(ref)}), not for {e.method}")
        out.append(f"  Allow: {', '.join(e.allow)}")
    elif e.outcome == "redirect":
        out.append(f"  {e.status} redirect to {printable(e.location or '')} (no route "
                   f"matches; its trailing-slash twin does)")
    elif e.outcome == "static":
        out.append(f"  no route matches: the static file {printable(e.static_file or '')} "
                   f"answers (200)")
    elif e.outcome == "websocket_refused":
        out.append("  no websocket route matches: refused at the handshake (403)")
    elif e.outcome == "unknown":
        out.append("  the router's decision could not be replayed"
                   + (f"; it answers {e.status}" if e.status is not None else ""))
    elif e.not_found is not None and e.status is None:
        out.append(f"  no route matches: {e.not_found} answers")
    else:
        out.append(f"  404 Not Found: no route matches and no public/ file; "
                   f"{e.not_found} answers")
    if e.segments or (e.outcome == "route" and e.path == "/"):
        out += ["", "Why, segment by segment:"]
        if not e.segments:
            out.append("  /  the root URL")
        texts = [printable(s.text) for s in e.segments]
        width = max(map(len, texts), default=0) + 1
        for s, text in zip(e.segments, texts, strict=True):
            shown = "/" + text
            if s.kind == "static":
                why = f"static {s.piece!r}"
            elif s.kind == "catch-all":
                why = f"catch-all {s.piece}: {s.param} = {s.value!r} (the rest of the URL)"
            else:
                why = f"{s.kind} {s.piece}: {s.param} = {s.value!r} ({s.convertor})"
            out.append(f"  {shown:<{width + 1}}  {why}")
    if e.groups:
        out.append("  groups " + ", ".join(f"({g})" for g in e.groups)
                   + " add no URL segment")
    for note in e.notes:
        out.append(f"  note: {printable(note)}")
    if e.losers:
        out += ["", "Also matching, and losing to it:"]
        for loser in e.losers:
            out.append(f"  {loser.route.method} {printable(loser.route.path)}  "
                       f"{_where(loser.route)}")
            out.append(f"      {printable(loser.reason)}")
    if e.outcome == "route":
        out += ["", "Layouts, outermost first:"]
        out += [f"  {layout}" for layout in e.layouts] or ["  none"]
        out += ["", "Middleware, outermost first:" if e.method != "WEBSOCKET" else
                "Middleware that sees the websocket, outermost first (HTTP middleware, "
                "middleware.py's and the layouts' pass it through):"]
        out += [f"  {layer.name}  ({layer.origin})" for layer in e.middleware] or ["  none"]
        out += ["", "Dependencies, in the order they run:"]
        out += [f"  {d.name}  ({d.origin})" for d in e.dependencies] or ["  none"]
        out += ["", "Exception handlers, in the order they are looked up:"]
        out += [f"  {h.key}: {h.name}  ({h.origin}"
                + ("; what no other handler answers)" if h.last_resort else ")")
                for h in e.exception_handlers] or ["  none"]
        if e.error is None:
            out += ["", "Handler parameters:"]
            for p in e.parameters:
                extra = "" if p.required is None else (
                    ", required" if p.required else ", optional")
                note = f"; {p.note}" if p.note else ""
                out.append(f"  {p.name}: {p.type}  from {p.source}{extra}{note}")
            if not e.parameters:
                out.append("  none")
    return "\n".join(out)
