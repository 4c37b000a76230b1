"""URLs a route file never gets: the app's own pages (docs, ReDoc, the OpenAPI document,
docs.py) answer them first; and public/ files a route hides (routes win over files, SPEC 2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..config import Config
from ..conventions import (
    HTTP_METHODS,
    Piece,
    Rank,
    Template,
    segment_regex,
)
from ..errors import Problem
from .placement import Placed
from .scan import Scan


@dataclass
class _Urls:
    """Concrete URLs, one segment per level, each with what serves it: finds the URLs a
    template matches without trying the template on each (a root catch-all in front of
    thousands of public files)."""

    children: dict[str, _Urls] = field(default_factory=dict)
    here: str | None = None  # what is at this URL, the first one added

    def add(self, url: str, what: str) -> None:
        node = self
        for segment in url.split("/")[1:] if url != "/" else ():
            node = node.children.setdefault(segment, _Urls())
        if node.here is None:
            node.here = what

    def below(self) -> Iterator[str]:
        """What is at every URL under this one (not at this one)."""
        for child in self.children.values():
            if child.here is not None:
                yield child.here
            yield from child.below()

    def matched(self, pieces: Sequence[Piece]) -> Iterator[str]:
        """What is at each URL the template's `pieces` match, as Starlette would match them."""
        if not pieces:
            if self.here is not None:
                yield self.here
            return
        piece, rest = pieces[0], pieces[1:]
        if piece.rank is Rank.STATIC:
            child = self.children.get(piece.text)
            if child is not None:
                yield from child.matched(rest)
        elif piece.type is not None and piece.type.rank is Rank.CATCHALL:
            yield from self.below()  # `{rest:path}` takes everything after its "/"
        elif piece.type is not None:  # one segment of a type; an unknown type: none known
            pattern = segment_regex(piece.type)
            for segment, child in self.children.items():
                if pattern.fullmatch(segment):
                    yield from child.matched(rest)





def app_pages(config: Config, docs_page: bool) -> list[tuple[str, str]]:
    """Each URL the app serves (GET and HEAD) before any route file, with what serves it, in
    the order they are registered (the first wins): config.py's health probes, then the docs
    pages (config.py's `fastapi` may move or turn off Swagger UI, its OAuth2 redirect and
    ReDoc) and, offline, their files."""
    served = config.pages(docs_page)
    pages = config.health.paths()  # added before everything else (SPEC 13.1)
    if served.openapi_url is not None:
        pages.append((served.openapi_url,
                      f"FastAPI's OpenAPI document ({served.openapi_url})"))
    if served.docs_url is not None and served.docs_page:
        pages.append((served.docs_url, f"docs.py ({served.docs_url})"))
    elif served.docs_url is not None:
        pages.append((served.docs_url, f"FastAPI's Swagger UI ({served.docs_url})"))
        if served.oauth2_redirect_url is not None:
            pages.append((served.oauth2_redirect_url, "FastAPI's Swagger UI OAuth2 redirect "
                          f"({served.oauth2_redirect_url})"))
    if served.redoc_url is not None:
        pages.append((served.redoc_url, f"FastAPI's ReDoc ({served.redoc_url})"))
    # config.py's docs = {"offline": True}: the files those pages load, from the app itself
    pages += [(url, f"the offline docs' {name} ({url})") for url, name in served.assets().items()]
    return pages


def _first_handler(placed: Placed, methods: Iterable[str]) -> tuple[str, int] | None:
    """The first of `methods` (in that order) the route file defines, with its line."""
    handlers = placed.file.handlers()
    return next(((m, handlers[m]) for m in methods if m in handlers), None)


def shadowed_routes(placed: list[Placed], config: Config, docs_page: bool
                     ) -> Iterator[Problem]:
    """A GET or HEAD whose URL is a page the app adds first (they answer GET and HEAD; any
    other method still reaches the route file). A template that *is* that URL never reaches
    its file: an error. A dynamic one that also matches it only loses that URL: a warning."""
    pages = app_pages(config, docs_page)
    if not pages:
        return
    urls = _Urls()
    for url, what in pages:
        urls.add(url, what)
    hint = "move the route to another URL"
    probes = {what for _, what in config.health.paths()}
    for p in placed:
        first = _first_handler(p, ("GET", "HEAD"))
        if first is None:
            continue
        method, line = first
        lost: dict[str, str] = {}  # what the app serves first -> the template that loses it
        for path, _, _ in p.shape.urls:
            template = Template.parse(path, own=True)
            for what in urls.matched(template.pieces):
                lost.setdefault(what, path)
        if not lost:
            continue
        advice = hint
        if any(what not in probes for what in lost):  # a docs page
            advice += ", or turn the docs off in config.py (docs_enabled = False)"
            if docs_page:
                advice += ", or delete docs.py"
        if any(what in probes for what in lost):
            advice += ", or move the probe (health = {'ready': '/-/ready'} in config.py)"
        if any(what.startswith("FastAPI's OpenAPI") for what in lost):
            advice += ", or move the OpenAPI document (openapi_url = '/api/openapi.json')"
        if any(what.startswith(("FastAPI's Swagger", "FastAPI's ReDoc", "docs.py",
                                 "the offline docs'"))
               for what in lost):
            advice += (", or move the page (fastapi = {'docs_url': '/api-docs', "
                       "'redoc_url': ...} in config.py)")
        whole = next((path for path in lost.values()
                      if not Template.parse(path, own=True).params), None)
        if whole is not None:  # every GET of this template: the route never runs for it
            first_taker = next(what for what, path in lost.items() if path == whole)
            others = [what for what in lost if what != first_taker]
            also = f" (and {', '.join(others)} below it)" if others else ""
            yield Problem(p.file.file, line, "SHADOWED_ROUTE",
                          f"{method} {whole} never reaches this file: {first_taker} answers "
                          f"that URL first{also}", advice)
        else:
            yield Problem(p.file.file, line, "SHADOWED_ROUTE",
                          f"{method} {p.path} never gets {', '.join(lost)}: the app answers "
                          "those URLs first", advice, warning=True)


_SHOWN_FILES = 3  # public files named in one message; the rest are counted


def shadowed_files(placed: list[Placed], scan: Scan, config: Config) -> Iterator[Problem]:
    """A file in public/ whose URL a route matches is never served (routes win over files,
    SPEC 2): a GET route answers it, a route of any other method answers 405. A warning (the
    tree does what SPEC 2 says), one per route file however many files it hides."""
    static_dir = PurePosixPath(config.static_dir).as_posix()
    urls = _Urls()
    for folder, names in scan.names.items():
        if folder != static_dir and not folder.startswith(static_dir + "/"):
            continue
        for name in names:
            path = f"{folder}/{name}"
            if path not in scan.names:  # a file: every folder below public/ is listed
                urls.add(path[len(static_dir):], path)
    if not urls.children:
        return
    for p in placed:
        first = _first_handler(p, HTTP_METHODS)
        if first is None:
            continue
        hidden = list(dict.fromkeys(
            f for path, _, _ in p.shape.urls
            for f in urls.matched(Template.parse(path, own=True).pieces)
        ))
        if not hidden:
            continue
        method, line = first
        if len(hidden) == 1:
            what = f"hides {hidden[0]}, which is never served"
        else:
            shown = ", ".join(hidden[:_SHOWN_FILES])
            more = ", ..." if len(hidden) > _SHOWN_FILES else ""
            what = (f"hides {len(hidden)} files in {static_dir}/ ({shown}{more}), which are "
                    "never served")
        yield Problem(
            p.file.file, line, "SHADOWED_FILE",
            f"{method} {p.path} {what}: a route wins over a static file at its URL",
            "move the files or the route to other URLs (a typed segment such as [id=int] "
            "matches fewer names), or delete what is never served", warning=True,
        )
