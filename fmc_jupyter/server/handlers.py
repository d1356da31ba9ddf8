"""REST handlers under ``/fmc/api/`` (docs/rest-api.md). Each is a thin call into the registry.

Every route requires Jupyter's authentication. The registry user is the authenticated Jupyter user
(on JupyterHub, the hub user); see :meth:`FmcHandler.registry_user` for the single-user case. Every
registry call runs in the pool's worker threads (:meth:`FmcHandler.call`), never on the event loop.
Errors, of the registry or of the request (bad argument, unknown path), answer JSON in the vocabulary
shared with the registry service (:mod:`fmc_jupyter.httpapi`): ``{"error", "message"}`` and its status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .. import __version__, httpapi
from ..config import current_user
from ..errors import FmcError, InputError, NotFoundError
from ..query import ALIASES, FIELDS
from ..registry.fields import integer
from .pool import RegistryPool

__all__ = ["setup_handlers", "FmcHandler", "ROUTES", "RUNS_WITH_HISTORY"]

T = TypeVar("T")
#: identity providers of a plain single-user server: their users are anonymous per-browser ids
_ANONYMOUS_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)
RUNS_WITH_HISTORY = 20
MAX_PAGE = 1000


class FmcHandler(APIHandler):
    """Base handler: the per-user registry in a worker thread, JSON replies, one error vocabulary."""

    @property
    def pool(self) -> RegistryPool:
        return self.settings["fmc_registry_pool"]

    def registry_user(self) -> str:
        """The authenticated Jupyter user's name.

        A plain single-user server (token or password identity provider) names its users with
        random anonymous ids; there the server's owner (:func:`config.current_user`) is the user.
        """
        if type(self.identity_provider) in _ANONYMOUS_PROVIDERS:
            return current_user()
        return self.current_user.username

    async def call(self, work: Callable[[Any], T]) -> T:
        """``work(registry)`` in a worker thread with the current user's registry."""
        return await self.pool.call(self.registry_user(), work)

    def int_argument(self, name: str, default: int, maximum: int | None = None) -> int:
        """A non-negative whole-number query argument (capped at ``maximum``); else a 400."""
        raw = self.get_argument(name, None)
        value = default if raw in (None, "") else integer(raw, name, minimum=0)
        return min(value, maximum) if maximum is not None else value

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(httpapi.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        status, body = httpapi.error_payload(error if error is not None else
                                             tornado.web.HTTPError(status_code, self._reason))
        if status >= 500 and not isinstance(error, tornado.web.HTTPError):
            body["message"] = "internal error of the Find My CNN server extension; see the Jupyter server log"
        self.set_status(status)
        self.reply(body, status)

    def log_exception(self, typ, value, tb) -> None:  # domain errors are the user's, not a server bug
        if isinstance(value, FmcError):
            self.log.info("fmc: %s %s -> %s: %s", self.request.method, self.request.uri, typ.__name__, value)
        else:
            super().log_exception(typ, value, tb)


class VersionHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """Package version, who you are, which registry, and a stamp that moves whenever the registry changes."""
        stamp = await self.call(self.pool.change_stamp)
        self.reply({"version": __version__, "user": self.registry_user(), "stamp": stamp,
                    "registry": self.pool.describe()})


class FieldsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """The query language's fields and aliases (hints for the search box)."""
        self.reply({"fields": [{"name": f.name, "kind": f.kind, "help": f.help} for f in FIELDS.values()],
                    "aliases": ALIASES})


class FacetsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """Distinct domains and families of the models you can see (options of the quick filters)."""
        frame = await self.call(lambda reg: reg.search("", columns=["domain", "family"], limit=None))
        self.reply({col: sorted({str(v) for v in frame[col].dropna()}, key=str.lower) for col in ("domain", "family")})


class ModelsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?q=<query>&order=-top1,params&limit=100&offset=0`` -> one page and the total."""
        query, order = self.get_argument("q", ""), self.get_argument("order", None) or None
        limit, offset = self.int_argument("limit", 100, maximum=MAX_PAGE), self.int_argument("offset", 0)

        def page(reg) -> dict[str, Any]:
            rows = reg.search(query, order_by=order, limit=limit, offset=offset)
            return {"total": reg.count(query), "offset": offset, "limit": limit, "models": rows}

        self.reply(await self.call(page))


class ModelHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        self.reply(await self.call(lambda reg: reg.model(ref)))


class VersionsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        """Every visible version of the model's line, oldest first (lineage through ``parent_id``)."""
        self.reply(await self.call(lambda reg: reg.versions(ref)))


class ModelRunsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        """Training runs of the model's line, newest first; the newest ones carry their epoch history."""
        def runs(reg) -> list[dict[str, Any]]:
            rows = httpapi.frame_records(reg.runs(model=ref))
            for row in rows[:RUNS_WITH_HISTORY]:
                row["history"] = reg.run(row["id"]).history
            return rows

        self.reply(await self.call(runs))


class ModelRankingsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        self.reply(await self.call(lambda reg: reg.rankings(model=ref)))


class ModelCommentsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        """Comments on one visible version, oldest first: ``id, model_id, author, text, created_at``."""
        self.reply(await self.call(lambda reg: reg.comments(ref)))

    @tornado.web.authenticated
    async def post(self, ref: str) -> None:
        """Body ``{"text": "..."}``: comment on a version you can see -> the new comment (201)."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InputError('send a JSON body: {"text": "your comment"}') from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise InputError('send a JSON body with the comment as a string: {"text": "your comment"}')

        def comment(reg) -> dict[str, Any]:
            comment_id = reg.add_comment(ref, body["text"])
            return next(c for c in httpapi.frame_records(reg.comments(ref)) if c["id"] == comment_id)

        self.reply(await self.call(comment), status=201)


class VisibilityHandler(FmcHandler):
    @tornado.web.authenticated
    async def post(self, ref: str, action: str) -> None:
        """``POST .../publish`` or ``.../unpublish`` one of your models."""
        self.reply(await self.call(lambda reg: getattr(reg, action)(ref)))


class RunHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(lambda reg: reg.run(run_id)))  # the registry checks the id (one place)


class DatasetsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(lambda reg: reg.datasets()))


class DatasetRankingsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        self.reply(await self.call(lambda reg: reg.rankings(dataset=ref)))


class DiffHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?a=<ref>&b=<ref>`` -> ``fmc_jupyter.modeldiff.diff(a, b).to_dict()`` (reads model files), computed in
        the child process of :mod:`.diff_worker`: Keras and TensorFlow never load into the server."""
        from .diff_worker import diff_in_child

        a, b = (self.get_argument(name, "").strip() for name in ("a", "b"))
        if not a or not b:
            raise InputError("give the two models to compare: diff?a=<ref>&b=<ref> (names, name:vN or ids)")
        await self.call(lambda reg: [reg.model(ref) for ref in (a, b)])  # 404 before any child work
        result = await diff_in_child(None if self.pool.remote else str(self.pool.target), self.registry_user(), a, b)
        result.pop("folded", None)
        self.reply(result)


class NoRouteHandler(FmcHandler):
    """Any other path under ``/fmc/api/``: a JSON 404 naming the routes there are."""

    @tornado.web.authenticated
    def _no_route(self, *args: Any) -> None:
        path = self.request.path.split("/fmc/api", 1)[-1] or "/"
        raise NotFoundError(f"the Find My CNN REST API has no route {self.request.method} /fmc/api{path}; "
                            f"routes: {', '.join(ROUTE_NAMES)} (docs/rest-api.md)")

    get = post = put = patch = delete = _no_route


_REF = r"(?P<ref>[^/]+)"
ROUTES: list[tuple[str, type[FmcHandler]]] = [
    (r"version", VersionHandler),
    (r"fields", FieldsHandler),
    (r"facets", FacetsHandler),
    (r"models", ModelsHandler),
    (rf"models/{_REF}", ModelHandler),
    (rf"models/{_REF}/versions", VersionsHandler),
    (rf"models/{_REF}/runs", ModelRunsHandler),
    (rf"models/{_REF}/rankings", ModelRankingsHandler),
    (rf"models/{_REF}/comments", ModelCommentsHandler),
    (rf"models/{_REF}/(?P<action>publish|unpublish)", VisibilityHandler),
    (r"runs/(?P<run_id>[^/]+)", RunHandler),
    (r"datasets", DatasetsHandler),
    (rf"datasets/{_REF}/rankings", DatasetRankingsHandler),
    (r"diff", DiffHandler),
]
ROUTE_NAMES = ["version", "fields", "facets", "models", "models/{ref}[/versions|runs|rankings|comments|publish|"
               "unpublish]", "runs/{id}", "datasets", "datasets/{ref}/rankings", "diff"]


def setup_handlers(web_app: Any, pool: RegistryPool) -> None:
    """Register the routes under ``<base_url>fmc/api/`` (and a JSON 404 for any other path there)."""
    web_app.settings["fmc_registry_pool"] = pool
    base = url_path_join(web_app.settings.get("base_url", "/"), "fmc", "api")
    handlers = [(url_path_join(base, pattern) + "/?$", handler) for pattern, handler in ROUTES]
    handlers.append((base + r"(?:/.*)?$", NoRouteHandler))
    web_app.add_handlers(".*$", handlers)


# ---------------------------------------------------------------------------------------------- panel views
# Routes of the panel's model page, diff view, datasets view and compact filters (issue 14).
FACET_FIELDS = {"task": "task", "domain": "domain", "license": "license", "source": "source_kind",
                "family": "family", "owner": "owner"}


class FacetCountsHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?q=<query>`` -> ``{field: [[value, count], ...]}`` for task, domain, license, source, family and
        owner among the models the query finds (most frequent first): the quick filters' options."""
        from ..registry.registry import SEARCH_COLUMNS  # a facet whose column search does not return stays empty

        query = self.get_argument("q", "")
        columns = [c for c in dict.fromkeys(FACET_FIELDS.values()) if c in SEARCH_COLUMNS]
        frame = await self.call(lambda reg: reg.search(query, columns=columns, limit=None))
        answer: dict[str, Any] = {}
        for name, column in FACET_FIELDS.items():
            counts = frame[column].dropna().astype(str).value_counts() if column in frame else {}
            answer[name] = [[str(v), int(n)] for v, n in sorted(dict(counts).items(),
                                                                 key=lambda kv: (-kv[1], kv[0].lower()))]
        answer["total"] = int(len(frame))
        self.reply(answer)


def _report_of(run: Any) -> str | None:
    """The path of the run's HTML report (``run.report()`` records it in the run's metrics) if that file exists."""
    path = (run.metrics or {}).get("report") if isinstance(run.metrics, dict) else None
    return path if isinstance(path, str) and path.lower().endswith(".html") and os.path.isfile(path) else None


class ModelPageHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        """Everything the model page shows, in one answer: ``{model, versions, runs, rankings, comments,
        aliases}``. Each version carries ``made_by_run`` (the run whose result it is); each run its dataset's
        name, its epoch history (newest 20 runs), the version it produced and whether it has an HTML report."""
        def page(reg) -> dict[str, Any]:
            model = reg.model(ref)
            versions = httpapi.frame_records(reg.versions(model.id))
            runs = httpapi.frame_records(reg.runs(model=model.id))
            datasets = {int(d["id"]): d["name"] for d in httpapi.frame_records(reg.datasets())} if runs else {}
            made_by = {}
            for i, run in enumerate(runs):
                run["dataset"] = datasets.get(run.get("dataset_id")) if run.get("dataset_id") is not None else None
                record = reg.run(run["id"])
                if i < RUNS_WITH_HISTORY:
                    run["history"] = record.history
                run["report"] = _report_of(record) is not None
                if run.get("result_model_id") is not None:
                    made_by[int(run["result_model_id"])] = run["id"]
            for version in versions:
                version["made_by_run"] = made_by.get(int(version["id"]), version.get("run_id"))
            return {"model": model, "versions": versions, "runs": runs,
                    "rankings": reg.rankings(model=model.id), "comments": reg.comments(model.id),
                    "aliases": reg.aliases(model.id)}

        answer = await self.call(page)
        if len(answer["versions"]) > 1:  # a diff of two versions is likely: have its child process ready
            from .diff_worker import warm

            warm()
        self.reply(answer)

    @tornado.web.authenticated
    async def patch(self, ref: str) -> None:
        """Body ``{"description": "...", "tags": "a, b"}``: change one of your models -> the model record."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InputError('send a JSON body such as {"description": "...", "tags": "a, b"}') from None
        if not isinstance(body, dict) or not body or set(body) - {"description", "tags"} \
                or not all(isinstance(v, str) for v in body.values()):
            raise InputError('send a JSON object with "description" and/or "tags" as strings')
        self.reply(await self.call(lambda reg: reg.update_model(ref, **body)))


class RunReportHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        """The run's standalone HTML training report (``run.report()`` wrote it), or 404."""
        path = await self.call(lambda reg: _report_of(reg.run(run_id)))  # the registry checks the id
        if path is None:
            raise NotFoundError(f"training run {run_id} has no HTML report; call run.report() in the notebook")
        # a sandboxed document: no script of a report runs with the Jupyter origin's rights
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        with open(path, "rb") as fh:
            self.finish(fh.read(), set_content_type="text/html; charset=utf-8")


class LeaderboardHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        """Every visible model evaluated on the dataset, best first: ``[{model_id, name, version, accuracy,
        evaluations, last_evaluated}]``."""
        self.reply(await self.call(lambda reg: reg.leaderboard(ref)))


class DiffViewHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?a=<ref>&b=<ref>`` -> the diff (as ``/diff``) plus ``folded`` (identical layers folded), computed
        in a child process (:mod:`.diff_worker`) so Keras and TensorFlow never load into the server."""
        from .diff_worker import diff_in_child

        a, b = (self.get_argument(name, "").strip() for name in ("a", "b"))
        if not a or not b:
            raise InputError("give the two models to compare: diff/view?a=<ref>&b=<ref> (names, name:vN or ids)")
        # 404 here, before any child work, for what you cannot see
        await self.call(lambda reg: [reg.model(ref) for ref in (a, b)])
        target = None if self.pool.remote else str(self.pool.target)
        self.reply(await diff_in_child(target, self.registry_user(), a, b))


ROUTES += [
    (r"facets/counts", FacetCountsHandler),
    (rf"models/{_REF}/page", ModelPageHandler),
    (r"runs/(?P<run_id>[^/]+)/report", RunReportHandler),
    (rf"datasets/{_REF}/leaderboard", LeaderboardHandler),
    (r"diff/view", DiffViewHandler),
]
ROUTE_NAMES += ["facets/counts", "models/{ref}/page", "runs/{id}/report", "datasets/{ref}/leaderboard",
                "diff/view"]
