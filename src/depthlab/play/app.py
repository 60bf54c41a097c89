"""The Starlette app: the page, its static files, and the JSON/SSE API the page (or a script) drives.

API (every request carries the token; see ``security.py``):

- ``GET  /api/options``                     models and the keys each takes, data sets, layer names, caps
- ``POST /api/validate``   ``{"settings"}``   ``{"command"}`` or ``{"error"}`` (the CLI's message), both 200
- ``POST /api/jobs``       ``{"settings", "paused"}``  201 job info; 400 bad setting; 429 too many jobs
- ``GET  /api/jobs`` / ``GET /api/jobs/{id}``  job infos
- ``POST /api/jobs/{id}/control``  ``{"action": "play" | "pause" | "step" | "stop"}``
- ``DELETE /api/jobs/{id}``                 stop it
- ``GET  /api/jobs/{id}/events``            Server-Sent Events: one JSON update per message, at most ~20/s
- ``GET  /api/jobs/{id}/watch.csv`` | ``weights.safetensors`` | ``command``  exports
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from depthlab.errors import DepthlabError
from depthlab.play import exports, settings
from depthlab.play.manager import CapacityError, JobManager
from depthlab.play.security import LOCAL_HOSTS, Guard, new_token

STATIC = Path(str(resources.files("depthlab.play") / "static"))
MAX_BODY = 64 * 1024
SEND_EVERY_S = 0.045  # at most ~20 updates a second per stream; newer updates replace older ones
KEEPALIVE_S = 15.0


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise DepthlabError(f"request body of {len(body)} bytes: the limit is {MAX_BODY}")
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise DepthlabError("request body: not valid JSON") from None
    if not isinstance(value, dict):
        raise DepthlabError("request body: expected a JSON object")
    return value


class PlayApi:
    """Route handlers over one JobManager (and the user's data file, if the command named one)."""

    def __init__(self, manager: JobManager, user_data: settings.UserData | None):
        self.manager, self.user_data = manager, user_data

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def options(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(settings.choices, self.user_data))

    async def validate(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            setup = await run_in_threadpool(self._checked_setup, body.get("settings", {}))
        except DepthlabError as err:  # an answer, not a failure: the page asks before it starts anything
            return JSONResponse({"error": str(err)})
        return JSONResponse({"command": setup.command()})

    def _checked_setup(self, raw) -> settings.Setup:
        from depthlab.play.job import load_data

        setup = settings.parse_setup(raw, self.user_data)
        config = settings.train_config(setup)
        settings.model_config(setup, load_data(setup, config.seed))
        return setup

    async def create(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            setup = settings.parse_setup(body.get("settings", {}), self.user_data)
            job = await run_in_threadpool(self.manager.create, setup, bool(body.get("paused", False)))
        except CapacityError as err:
            return _error(429, str(err))
        except DepthlabError as err:
            return _error(400, str(err))
        return JSONResponse(job.info(), status_code=201)

    def _job(self, request: Request):
        try:
            return self.manager.get(request.path_params["job_id"])
        except KeyError:
            return None

    async def list_jobs(self, request: Request) -> Response:
        return JSONResponse([job.info() for job in self.manager.jobs.values()])

    async def job_info(self, request: Request) -> Response:
        job = self._job(request)
        return JSONResponse(job.info()) if job else _error(404, "no such job")

    async def control(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        try:
            job.control(str((await _json_body(request)).get("action", "")))
        except DepthlabError as err:
            return _error(400, str(err))
        return JSONResponse({"status": job.status})

    async def delete(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        job.stop("stopped from the page")
        return JSONResponse({"status": "stopping"})

    async def events(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(self._stream(job), media_type="text/event-stream", headers=headers)

    async def _stream(self, job):
        loop, fresh = asyncio.get_running_loop(), asyncio.Event()

        def notify() -> None:
            loop.call_soon_threadsafe(fresh.set)

        self.manager.watching(job, +1)
        job.subscribe(notify)
        try:
            sent = -1
            while True:
                fresh.clear()
                if job.seq != sent:
                    sent = job.seq
                    yield f"data: {job.message}\n\n"
                    if job.finished and sent == job.seq:
                        return  # that was the last update of a finished job
                    await asyncio.sleep(SEND_EVERY_S)
                    continue
                try:
                    await asyncio.wait_for(fresh.wait(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            job.unsubscribe(notify)
            self.manager.watching(job, -1)

    async def watch_csv(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        text = await run_in_threadpool(exports.watch_csv, job)
        disposition = f'attachment; filename="watch-{job.id}.csv"'
        return PlainTextResponse(text, media_type="text/csv", headers={"content-disposition": disposition})

    async def weights(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        blob = await run_in_threadpool(exports.weights, job)
        disposition = f'attachment; filename="{job.setup.model}-{job.id}.safetensors"'
        headers = {"content-disposition": disposition}
        return Response(blob, media_type="application/octet-stream", headers=headers)

    async def command(self, request: Request) -> Response:
        job = self._job(request)
        return PlainTextResponse(job.setup.command()) if job else _error(404, "no such job")

    def routes(self) -> list:
        jobs = "/api/jobs/{job_id}"
        return [
            Route("/", self.index),
            Route("/api/options", self.options),
            Route("/api/validate", self.validate, methods=["POST"]),
            Route("/api/jobs", self.list_jobs),
            Route("/api/jobs", self.create, methods=["POST"]),
            Route(jobs, self.job_info),
            Route(jobs, self.delete, methods=["DELETE"]),
            Route(jobs + "/control", self.control, methods=["POST"]),
            Route(jobs + "/events", self.events),
            Route(jobs + "/watch.csv", self.watch_csv),
            Route(jobs + "/weights.safetensors", self.weights),
            Route(jobs + "/command", self.command),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]


def _lifespan(manager: JobManager):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await run_in_threadpool(manager.stop_all)  # the server stops: every job ends with it

    return lifespan


def create_app(
    token: str | None = None,
    host: str = "127.0.0.1",
    user_data: settings.UserData | None = None,
    manager: JobManager | None = None,
    cookie: str = "depthlab_play",
):
    """The guarded app; ``app.state.token`` and ``app.state.manager`` are there for the server and tests."""
    manager = manager or JobManager()
    api = PlayApi(manager, user_data)
    hosts = LOCAL_HOSTS | {host.lower().strip("[]")}
    inner = Starlette(routes=api.routes(), lifespan=_lifespan(manager), max_body_size=MAX_BODY)
    token = token or new_token()
    app = Guard(inner, token, hosts, cookie)
    app.state = inner.state
    app.state.token, app.state.manager = token, manager
    return app
