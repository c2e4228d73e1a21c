"""The local web page of ``loco count``: a small JSON API over :mod:`loco_cli.labelling` and one HTML page.

The standard library's threaded HTTP server is enough here: one person, on this machine (bound to
127.0.0.1 unless told otherwise), a page and five small endpoints; a web framework (Starlette,
uvicorn) would add two dependencies and nothing this needs. Endpoints:

* ``GET /``: the page (``count_page.html``);
* ``GET /api/state``: classes, the order of the snippets, how many are answered, where to resume,
  the files that could not be read, and whether a model or a review drives the page;
* ``GET /api/snippet/ID``: the snippet's times, its saved answer, the model's suggestion or the two
  reviewed answers, and its picture (:func:`loco_cli.labelling.snippet_view`);
* ``GET /api/audio/ID.wav``: the snippet's audio;
* ``POST /api/answer`` with ``{"id": ID, "counts": {"KD": 2, ...}}``: saved at once
  (:meth:`loco_cli.labelling.CountStore.save`); a count that is not a whole number 0-99 is refused
  with status 400 and a message.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loco_cli.errors import LocoError
from loco_cli.labelling import Answer, CountStore, Snippet, snippet_view, snippet_wav

PAGE = Path(__file__).with_name("count_page.html")


@dataclass
class CountApp:
    """Everything the server answers from: the snippets, the order to offer them in, the manifest, and
    the model's suggestions or the reviewed answers (by snippet id)."""

    snippets: list[Snippet]
    store: CountStore
    order: list[int]
    problems: list[str] = field(default_factory=list)
    suggestions: dict[int, dict] = field(default_factory=dict)
    review: dict[int, dict] = field(default_factory=dict)
    annotator: str = ""
    model_label: str = ""
    review_label: str = ""
    _views: dict[int, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> dict:
        answers = self.store.read()
        done = [i for i in self.order if self.snippets[i].key in answers]
        resume = next((k for k, i in enumerate(self.order) if self.snippets[i].key not in answers), len(self.order))
        return {"classes": self.store.classes, "order": self.order, "answered": len(done), "total": len(self.order),
                "resume": resume, "problems": self.problems, "manifest": str(self.store.path),
                "model": self.model_label or None, "review": self.review_label or None, "annotator": self.annotator}

    def snippet(self, i: int) -> dict:
        s = self.snippets[i]
        with self._lock:
            view = self._views.get(i)
        if view is None:
            view = snippet_view(s)
            with self._lock:
                if len(self._views) > 256:
                    self._views.clear()
                self._views[i] = view
        answer = self.store.read().get(s.key)
        return {"id": i, "audio": s.rel, "start": s.start, "end": s.end, "answer": answer.counts if answer else None,
                "suggestion": self.suggestions.get(i), "review": self.review.get(i), "view": view}

    def answer(self, payload: dict) -> dict:
        try:
            i = int(payload["id"])
            counts = payload["counts"]
            if not isinstance(counts, dict) or i not in set(self.order):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise _BadRequest("send {\"id\": <snippet id>, \"counts\": {\"<class>\": <count>, ...}}") from None
        if any(isinstance(v, bool) or not isinstance(v, int) for v in counts.values()):
            raise _BadRequest(f"counts are whole numbers; got {counts}")
        suggestion = self.suggestions.get(i)
        model = ";".join(f"{c}={v}" for c, v in suggestion["suggested"].items()) if suggestion else ""
        try:
            answered = self.store.save(self.snippets[i], Answer(dict(counts), self.annotator, model))
        except LocoError as err:
            raise _BadRequest(str(err)) from None
        done = self.store.read()
        return {"saved": i, "answered": sum(self.snippets[k].key in done for k in self.order), "in_manifest": answered}


class _BadRequest(Exception):
    pass


def make_handler(app: CountApp):
    """The request handler class bound to ``app``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "loco-count"

        def log_message(self, *args) -> None:  # quiet: the CLI prints what matters
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, status: int = 200) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _error(self, status: int, message: str) -> None:
            self._json({"error": message}, status)

        def _snippet_id(self, text: str) -> int | None:
            try:
                i = int(text)
            except ValueError:
                return None
            return i if 0 <= i < len(app.snippets) else None

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0]
            try:
                if path in ("/", "/index.html"):
                    self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif path == "/api/state":
                    self._json(app.state())
                elif path.startswith("/api/snippet/"):
                    i = self._snippet_id(path.rsplit("/", 1)[1])
                    if i is None:
                        return self._error(404, f"no snippet {path.rsplit('/', 1)[1]}")
                    self._json(app.snippet(i))
                elif path.startswith("/api/audio/") and path.endswith(".wav"):
                    i = self._snippet_id(path.rsplit("/", 1)[1][:-4])
                    if i is None:
                        return self._error(404, "no such snippet")
                    self._send(200, snippet_wav(app.snippets[i]), "audio/wav")
                else:
                    self._error(404, f"nothing at {path}")
            except LocoError as err:
                self._error(HTTPStatus.CONFLICT, str(err))
            except (OSError, RuntimeError, ValueError) as err:  # e.g. a file changed on disk since the start
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(err).__name__}: {err}")

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/api/answer":
                return self._error(404, f"nothing to post at {self.path}")
            try:
                size = int(self.headers.get("Content-Length", "0"))
                if not 0 < size <= 1 << 16:
                    raise _BadRequest("empty or oversized request")
                payload = json.loads(self.rfile.read(size))
                self._json(app.answer(payload if isinstance(payload, dict) else {}))
            except json.JSONDecodeError:
                self._error(400, "the request is not JSON")
            except _BadRequest as err:
                self._error(400, str(err))

    return Handler


def start_server(app: CountApp, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Bind the server (``port`` 0: a free one; read it from ``server.server_address``). The caller runs
    ``serve_forever()``. Raises ``OSError`` when the port is taken."""
    server = ThreadingHTTPServer((host, port), make_handler(app))
    server.daemon_threads = True
    return server
