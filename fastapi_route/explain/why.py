"""Why a file route answers, from the folder grammar (`conventions`): which template piece
took each URL segment, and the first segment where precedence (static > typed > [param] >
catch-all) puts the winner before a route that also matches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..conventions import SEGMENT_TYPES, Rank, Template
from ..runtime.segment_types import OwnType, own_types_of
from ..table import RouteEntry
from .model import SegmentMatch

KINDS = {Rank.STATIC: "static", Rank.TYPED: "typed", Rank.PARAM: "param",
         Rank.CATCHALL: "catch-all"}


def segments_of(record: RouteEntry, path: str, path_params: dict[str, Any]) -> list[SegmentMatch]:
    """Which template piece took each URL segment, with the value the handler gets."""
    texts = [] if path == "/" else path.split("/")[1:]  # the request's URL segments
    found: list[SegmentMatch] = []
    for i, piece in enumerate(record.template.pieces):
        text = texts[i] if i < len(texts) else ""
        if piece.type is None:  # static text: each parameter of a record's template is typed
            found.append(SegmentMatch(text, piece.text, "static"))
            continue
        if piece.rank is Rank.CATCHALL:
            rest = "/".join(texts[i:])
            found.append(SegmentMatch(rest, piece.text, "catch-all", piece.param,
                                      rest.split("/") if rest else [], piece.type.name))
            break
        value = path_params.get(piece.param, text)
        if not isinstance(value, (str, int, float)):
            value = str(value)  # a UUID
        found.append(SegmentMatch(text, piece.text, KINDS[piece.rank], piece.param, value,
                                  piece.type.name))
    return found


def types_said(r: RouteEntry, values: Mapping[str, str],
               kinds: Mapping[str, OwnType]) -> str:
    """What a route's project types (SPEC 14.1) said of the segments its template matched:
    each one's `pattern`, then its `match`, as the route asks them."""
    parts = []
    for param, name in own_types_of(r.template):
        kind, value = kinds[name], values[param]
        if kind.pattern is not None and kind.pattern.fullmatch(value) is None:
            parts.append(f"[{param}={name}] does not take {value!r}: {kind.file}'s pattern "
                         f"{kind.pattern.pattern!r} does not match it")
        elif not kind.accepts(value):
            parts.append(f"[{param}={name}] does not take {value!r}: {kind.file}'s match "
                         "said no")
        else:
            parts.append(f"[{param}={name}] takes {value!r}: {kind.file}'s match said yes")
    taken = all(kinds[name].accepts(values[param]) for param, name in own_types_of(r.template))
    then = "" if taken else ", so the router tried the next route"
    return f"{r.label} {r.path} ({r.file}): " + "; ".join(parts) + then


def why_first(winner: str, loser: str, path: str) -> tuple[int | None, str]:
    """The first URL segment where precedence puts `winner` before `loser`, and why."""
    pieces_w = Template.parse(winner, own=True).pieces  # both route files' templates
    pieces_l = Template.parse(loser, own=True).pieces
    texts = [] if path == "/" else path.split("/")[1:]  # the request's URL segments
    for i, (a, b) in enumerate(zip(pieces_w, pieces_l, strict=False)):
        if a.key == b.key:
            continue
        text = texts[i] if i < len(texts) else ""
        at = f"at segment {i + 1} ({text!r})"
        if a.rank is b.rank is Rank.TYPED and a.type and b.type:
            typed = [t.name for t in SEGMENT_TYPES.values() if t.rank is Rank.TYPED]
            order = ", ".join(typed) + ", then a project's own types in name order"
            return i + 1, (f"{at}: typed segments are tried in the order "
                           f"{order}: {a.type.name} before {b.type.name}")
        return i + 1, (f"{at}: {KINDS[a.rank]} {a.text} beats {KINDS[b.rank]} {b.text}")
    if len(pieces_w) < len(pieces_l):
        end = len(pieces_w)
        return end + 1, (f"at segment {end + 1}: the URL ends where {winner} ends; "
                         f"the catch-all {pieces_l[end].text} would take an empty rest")
    return None, "same precedence: the first in the table's order answers"
