"""REST handlers under ``/fmc/api/``. Each is a thin call into the registry; errors map to HTTP in one place.

Every route requires Jupyter's authentication. The registry user is the authenticated Jupyter user
(on JupyterHub, the hub user); see :meth:`FmcHandler.registry_user` for the single-user case.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from typing import Any

import pandas as pd
import tornado.web
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .. import __version__
from ..config import current_user
from ..errors import (FmcError, InputError, NotFoundError, PermissionDeniedError, QueryError,
                      RegistryUnavailableError)
from ..query import ALIASES, FIELDS
from ..registry import Registry
from .pool import RegistryPool

__all__ = ["setup_handlers", "status_for", "FmcHandler", "ROUTES"]

#: domain error -> HTTP status (first match wins; anything else that is an FmcError is a 400)
_STATUS: list[tuple[type[FmcError], int]] = [
    (QueryError, 400), (InputError, 400), (NotFoundError, 404), (PermissionDeniedError, 403),
    (RegistryUnavailableError, 503),
]
#: identity providers of a plain single-user server: their users are anonymous per-browser ids
_ANONYMOUS_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)
RUNS_WITH_HISTORY = 20


def status_for(error: FmcError) -> int:
    """The HTTP status code of a domain error."""
    return next((code for cls, code in _STATUS if isinstance(error, cls)), 400)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (NaN -> null)."""
    return json.loads(frame.to_json(orient="records"))


def as_json(record: Any) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    if hasattr(record, "ref"):
        data["ref"] = record.ref
    return data


class FmcHandler(APIHandler):
    """Base handler: the per-user registry, JSON replies, and the FmcError -> HTTP mapping."""

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

    @property
    def registry(self) -> Registry:
        return self.pool.get(self.registry_user())

    def int_argument(self, name: str, default: int, maximum: int | None = None) -> int:
        raw = self.get_argument(name, None)
        try:
            value = default if raw in (None, "") else int(raw)
        except ValueError:
            raise InputError(f"'{name}' must be a whole number, not {raw!r}") from None
        if value < 0:
            raise InputError(f"'{name}' must not be negative")
        return min(value, maximum) if maximum is not None else value

    def reply(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(status_for(error) if isinstance(error, FmcError) else status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(error, FmcError):
            return super().write_error(status_code, **kwargs)
        body: dict[str, Any] = {"message": getattr(error, "message", None) or str(error), "error": type(error).__name__}
        if isinstance(error, QueryError):
            body.update(query=error.query, position=error.position)
        self.reply(body)

    def log_exception(self, typ, value, tb) -> None:  # domain errors are the user's, not a server bug
        if isinstance(value, FmcError):
            self.log.info("fmc: %s %s -> %s: %s", self.request.method, self.request.uri, typ.__name__, value)
        else:
            super().log_exception(typ, value, tb)


class VersionHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """Package version, who you are, and a stamp that changes whenever the registry changes."""
        self.reply({"version": __version__, "user": self.registry_user(), "stamp": self.pool.change_stamp()})


class FieldsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """The query language's fields and aliases (hints for the search box)."""
        self.reply({"fields": [{"name": f.name, "kind": f.kind, "help": f.help} for f in FIELDS.values()],
                    "aliases": ALIASES})


class FacetsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """Distinct domains and families of the models you can see (options of the quick filters)."""
        frame = self.registry.search("", columns=["domain", "family"], limit=None)
        self.reply({col: sorted({str(v) for v in frame[col].dropna()}, key=str.lower) for col in ("domain", "family")})


class ModelsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """``?q=<query>&order=-top1,params&limit=100&offset=0`` -> one page and the total."""
        reg, query = self.registry, self.get_argument("q", "")
        limit, offset = self.int_argument("limit", 100, maximum=1000), self.int_argument("offset", 0)
        page = reg.search(query, order_by=self.get_argument("order", None) or None, limit=limit, offset=offset)
        self.reply({"total": reg.count(query), "offset": offset, "limit": limit, "models": frame_records(page)})


class ModelHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        self.reply(as_json(self.registry.model(ref)))


class VersionsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        """Every visible version of the model's line, oldest first (lineage through ``parent_id``)."""
        self.reply(frame_records(self.registry.versions(ref)))


class ModelRunsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        """Training runs of the model's line, newest first; the newest ones carry their epoch history."""
        reg = self.registry
        runs = frame_records(reg.runs(model=ref))
        for run in runs[:RUNS_WITH_HISTORY]:
            run["history"] = reg.run(run["id"]).history
        self.reply(runs)


class ModelRankingsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        self.reply(frame_records(self.registry.rankings(model=ref)))


class ModelCommentsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        """Comments on one visible version, oldest first: ``id, model_id, author, text, created_at``."""
        self.reply(frame_records(self.registry.comments(ref)))

    @tornado.web.authenticated
    def post(self, ref: str) -> None:
        """Body ``{"text": "..."}``: comment on a version you can see -> the new comment (201)."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InputError('send a JSON body: {"text": "your comment"}') from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise InputError('send a JSON body with the comment as a string: {"text": "your comment"}')
        reg = self.registry
        comment_id = reg.add_comment(ref, body["text"])
        comments = frame_records(reg.comments(ref))
        self.set_status(201)
        self.reply(next(c for c in comments if c["id"] == comment_id))


class VisibilityHandler(FmcHandler):
    @tornado.web.authenticated
    def post(self, ref: str, action: str) -> None:
        """``POST .../publish`` or ``.../unpublish`` one of your models."""
        reg = self.registry
        self.reply(as_json(reg.publish(ref) if action == "publish" else reg.unpublish(ref)))


class RunHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        self.reply(as_json(self.registry.run(int(run_id))))


class DatasetsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply(frame_records(self.registry.datasets()))


class DatasetRankingsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        self.reply(frame_records(self.registry.rankings(dataset=ref)))


class DiffHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?a=<ref>&b=<ref>`` -> ``fmc_jupyter.modeldiff.diff(a, b).to_dict()``.

        Diffing reads model files (and may build Keras models), so it runs in a worker thread on a
        registry connection of its own, keeping the server's event loop free.
        """
        a, b = self.get_argument("a"), self.get_argument("b")
        path, user = self.registry.path, self.registry.user

        def work() -> dict[str, Any]:
            from ..modeldiff import diff

            with Registry(path, user=user) as registry:
                return diff(a, b, registry=registry).to_dict()

        self.reply(await asyncio.to_thread(work))


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
    (r"runs/(?P<run_id>\d+)", RunHandler),
    (r"datasets", DatasetsHandler),
    (rf"datasets/{_REF}/rankings", DatasetRankingsHandler),
    (r"diff", DiffHandler),
]


def setup_handlers(web_app: Any, pool: RegistryPool) -> None:
    """Register the routes under ``<base_url>fmc/api/`` with the registry pool in the app settings."""
    web_app.settings["fmc_registry_pool"] = pool
    base = url_path_join(web_app.settings.get("base_url", "/"), "fmc", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern) + "/?$", handler) for pattern, handler in ROUTES])


# ---------------------------------------------------------------------------------------------- panel views
# Routes of the panel's model page, diff view, datasets view and compact filters (issue 14).
FACET_FIELDS = {"task": "task", "domain": "domain", "license": "license", "source": "source_kind",
                "family": "family", "owner": "owner"}


class FacetCountsHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """``?q=<query>`` -> ``{field: [[value, count], ...]}`` for task, domain, license, source, family and
        owner among the models the query finds (most frequent first): the quick filters' options."""
        from ..registry.registry import SEARCH_COLUMNS  # a facet whose column search does not return stays empty

        columns = [c for c in dict.fromkeys(FACET_FIELDS.values()) if c in SEARCH_COLUMNS]
        frame = self.registry.search(self.get_argument("q", ""), columns=columns, limit=None)
        answer = {}
        for name, column in FACET_FIELDS.items():
            counts = frame[column].dropna().astype(str).value_counts() if column in frame else pd.Series(dtype=int)
            answer[name] = [[str(v), int(n)] for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))]
        answer["total"] = int(len(frame))
        self.reply(answer)


def _report_of(run: Any) -> str | None:
    """The path of the run's HTML report (``run.report()`` records it in the run's metrics) if that file exists."""
    path = (run.metrics or {}).get("report") if isinstance(run.metrics, dict) else None
    return path if isinstance(path, str) and path.lower().endswith(".html") and os.path.isfile(path) else None


class ModelPageHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        """Everything the model page shows, in one answer: ``{model, versions, runs, rankings, comments,
        aliases}``. Each version carries ``made_by_run`` (the run whose result it is); each run its dataset's
        name, its epoch history (newest 20 runs), the version it produced and whether it has an HTML report."""
        reg = self.registry
        model = reg.model(ref)
        versions = frame_records(reg.versions(model.id))
        runs = frame_records(reg.runs(model=model.id))
        datasets = {int(d["id"]): d["name"] for d in frame_records(reg.datasets())} if runs else {}
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
        try:
            aliases = frame_records(reg.aliases(model.id))
        except (FmcError, AttributeError):
            aliases = []
        self.reply({"model": as_json(model), "versions": versions, "runs": runs,
                    "rankings": frame_records(reg.rankings(model=model.id)),
                    "comments": frame_records(reg.comments(model.id)), "aliases": aliases})

    @tornado.web.authenticated
    def patch(self, ref: str) -> None:
        """Body ``{"description": "...", "tags": "a, b"}``: change one of your models -> the model record."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InputError('send a JSON body such as {"description": "...", "tags": "a, b"}') from None
        if not isinstance(body, dict) or not body or set(body) - {"description", "tags"} \
                or not all(isinstance(v, str) for v in body.values()):
            raise InputError('send a JSON object with "description" and/or "tags" as strings')
        self.reply(as_json(self.registry.update_model(ref, **body)))


class RunReportHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        """The run's standalone HTML training report (``run.report()`` wrote it), or 404."""
        path = _report_of(self.registry.run(int(run_id)))
        if path is None:
            raise NotFoundError(f"training run {run_id} has no HTML report; call run.report() in the notebook")
        # a sandboxed document: no script of a report runs with the Jupyter origin's rights
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        with open(path, "rb") as fh:
            self.finish(fh.read(), set_content_type="text/html; charset=utf-8")


class LeaderboardHandler(FmcHandler):
    @tornado.web.authenticated
    def get(self, ref: str) -> None:
        """Every visible model evaluated on the dataset, best first: ``[{model_id, name, version, accuracy,
        evaluations, last_evaluated}]``."""
        self.reply(frame_records(self.registry.leaderboard(ref)))


class DiffViewHandler(FmcHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        """``?a=<ref>&b=<ref>`` -> the diff (as ``/diff``) plus ``folded`` (identical layers folded), computed
        in a child process (:mod:`.diff_worker`) so Keras and TensorFlow never load into the server."""
        from .diff_worker import diff_in_child

        a, b = self.get_argument("a"), self.get_argument("b")
        reg = self.registry
        for ref in (a, b):
            reg.model(ref)  # 404 here, before any child work, for what you cannot see
        self.reply(await diff_in_child(str(reg.path), reg.user, a, b))


ROUTES += [
    (r"facets/counts", FacetCountsHandler),
    (rf"models/{_REF}/page", ModelPageHandler),
    (r"runs/(?P<run_id>\d+)/report", RunReportHandler),
    (rf"datasets/{_REF}/leaderboard", LeaderboardHandler),
    (r"diff/view", DiffViewHandler),
]
