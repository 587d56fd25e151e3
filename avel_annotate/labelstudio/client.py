"""A thin typed wrapper over the Label Studio SDK (2.x); the only module that imports it.

Every SDK/HTTP failure becomes a one-line ``LabelStudioError`` naming the server URL (and the
task or annotation id) and the fix. Records are checked against the JSON Schemas in ``schema/``
before they are sent and after they are read. The token is handed to the SDK and nowhere else:
it is never logged, never part of a message.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

import httpx
import jsonschema
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from referencing import Registry, Resource

from avel_annotate.errors import LabelStudioError

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVE_HINT = "start it with `avel labelstudio serve`, or point --ls-url / AVEL_LS_URL at it"
TOKEN_HINT = (
    "set AVEL_LS_API_KEY to a legacy or personal access token of that server "
    "(`avel labelstudio serve` writes one to the config file)"
)
SCHEMA_NAMES = ("task", "prediction", "annotation")


@cache
def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    root = importlib.resources.files("avel_annotate.schema")
    docs = {n: json.loads((root / f"{n}.schema.json").read_text()) for n in SCHEMA_NAMES}
    registry: Registry[Any] = Registry().with_resources(
        (f"{n}.schema.json", Resource.from_contents(doc)) for n, doc in docs.items()
    )
    registry = registry.with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values()
    )
    return {n: jsonschema.Draft202012Validator(d, registry=registry) for n, d in docs.items()}


def schema_problem(name: str, record: Any) -> str | None:
    """The first way ``record`` breaks ``schema/<name>.schema.json``, else None."""
    error = jsonschema.exceptions.best_match(_validators()[name].iter_errors(record))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(record)"
    return f"{where}: {error.message}"


class LsClient:
    """One Label Studio server, reached with one token."""

    def __init__(self, url: str, api_key: str, *, timeout_s: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._sdk = LabelStudio(base_url=self.url, api_key=api_key, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"LsClient({self.url!r})"

    # -- error table ------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise LabelStudioError(
                f"Label Studio at {self.url} is not reachable ({what})", SERVE_HINT
            ) from e
        except httpx.TimeoutException as e:
            raise LabelStudioError(
                f"Label Studio at {self.url} timed out ({what})", "try again, or smaller batches"
            ) from e
        except httpx.HTTPError as e:
            raise LabelStudioError(
                f"Label Studio at {self.url} failed ({what}): {type(e).__name__}", SERVE_HINT
            ) from e
        except ApiError as e:
            raise self._api_error(what, e) from e

    def _api_error(self, what: str, e: ApiError) -> LabelStudioError:
        status = e.status_code
        if status in (401, 403):
            return LabelStudioError(
                f"Label Studio at {self.url} refused the token ({what}: HTTP {status})", TOKEN_HINT
            )
        body = e.body if isinstance(e.body, str) else json.dumps(e.body, default=str)
        body = " ".join(str(body).split())
        body = "(an HTML page)" if body.startswith("<") else body[:300]
        hint = "check that it exists on the server" if status == 404 else None
        return LabelStudioError(f"Label Studio at {self.url}: {what}: HTTP {status} {body}", hint)

    # -- users and organisation -------------------------------------------------------------

    def whoami(self) -> tuple[int, str]:
        me = self._call("who am I", self._sdk.users.whoami)
        return int(me.id), str(me.email or me.username or f"user:{me.id}")

    def invite_url(self) -> str:
        invite = self._call("invite link", self._sdk.organizations.invites.get_invite_link)
        return f"{self.url}{invite.invite_url}"

    def users(self) -> dict[int, str]:
        found = self._call("list users", self._sdk.users.list)
        return {int(u.id): str(u.email or u.username or f"user:{u.id}") for u in found}

    def create_user(self, email: str, first_name: str = "", last_name: str = "") -> int:
        user = self._call(
            f"create user {email}",
            self._sdk.users.create,
            email=email,
            username=email,
            first_name=first_name,
            last_name=last_name,
        )
        return int(user.id)

    # -- projects and storage ---------------------------------------------------------------

    def find_project(self, title: str) -> int | None:
        found: Any = self._call(f"find project {title!r}", self._sdk.projects.list, title=title)
        for project in found:
            if project.title == title:
                return int(project.id)
        return None

    def projects(self) -> list[tuple[int, str, str]]:
        """``(id, title, description)`` of every project the token can see."""
        pager: Any = self._call("list projects", self._sdk.projects.list, page_size=100)
        found: list[Any] = self._call("list projects", list, pager)
        return [(int(p.id), str(p.title or ""), str(p.description or "")) for p in found]

    def project_exists(self, project_id: int) -> bool:
        try:
            self._call(f"get project {project_id}", self._sdk.projects.get, project_id)
        except LabelStudioError as e:
            if isinstance(e.__cause__, ApiError) and e.__cause__.status_code == 404:
                return False
            raise
        return True

    def create_project(self, title: str, label_config: str, **fields: Any) -> int:
        project: Any = self._call(
            f"create project {title!r}",
            self._sdk.projects.create,
            title=title,
            label_config=label_config,
            **fields,
        )
        return int(project.id)

    def update_project(self, project_id: int, **fields: Any) -> None:
        self._call(f"update project {project_id}", self._sdk.projects.update, project_id, **fields)

    def ensure_local_storage(self, project_id: int, path: str, title: str) -> int:
        """The project's local-files import storage over ``path``: the one titled ``title`` is
        re-pointed there when it names another path (a data dir copied or moved), else one is
        created."""
        local = self._sdk.import_storage.local
        found: list[Any] = list(
            self._call("list local storages", local.list, project=project_id) or []
        )
        for storage in found:
            if storage.path == path:
                return int(storage.id)
        for storage in found:
            if storage.title == title:
                self.repoint_local_storage(int(storage.id), project_id, path)
                return int(storage.id)
        created = self._call(
            f"create local storage {path} for project {project_id}",
            local.create,
            project=project_id,
            path=path,
            title=title,
            use_blob_urls=False,
        )
        return int(created.id)

    def local_storages(self) -> list[tuple[int, int, str, str]]:
        """``(id, project id, path, title)`` of every local-files import storage."""
        out: list[tuple[int, int, str, str]] = []
        for pid, _title, _description in self.projects():
            found: Any = self._call(
                f"list local storages of project {pid}",
                self._sdk.import_storage.local.list,
                project=pid,
            )
            out += [(int(s.id), pid, str(s.path), str(s.title or "")) for s in found or []]
        return out

    def repoint_local_storage(self, storage_id: int, project_id: int, path: str) -> None:
        log.info("local storage %d of project %d now serves %s", storage_id, project_id, path)
        self._call(
            f"re-point local storage {storage_id} of project {project_id} to {path}",
            self._sdk.import_storage.local.update,
            storage_id,
            project=project_id,
            path=path,
        )

    # -- tasks ------------------------------------------------------------------------------

    def task_clip_ids(self, project_id: int) -> list[tuple[int, str | None]]:
        """``(task id, data.clip_id)`` of every task of the project."""
        pager: Any = self._call(
            f"list tasks of project {project_id}",
            self._sdk.tasks.list,
            project=project_id,
            fields="task_only",
            include="id,data",
            page_size=1000,
        )
        out: list[tuple[int, str | None]] = []
        tasks: list[Any] = self._call(f"list tasks of project {project_id}", list, pager)
        for task in tasks:
            clip_id = (task.data or {}).get("clip_id")
            out.append((int(task.id), clip_id if isinstance(clip_id, str) else None))
        return out

    def import_tasks(self, project_id: int, tasks: Sequence[dict[str, Any]]) -> list[int]:
        """Import tasks (with inline predictions) synchronously; their ids, in order."""
        for task in tasks:
            problem = schema_problem("task", task)
            if problem:
                clip = task.get("data", {}).get("clip_id")
                raise LabelStudioError(
                    f"task for clip {clip} does not match task.schema.json: {problem}",
                    "this is a bug in the data sent; report it",
                )
        response: Any = self._call(
            f"import {len(tasks)} tasks into project {project_id}",
            self._sdk.projects.import_tasks,
            project_id,
            request=list(tasks),
            return_task_ids=True,
        )
        ids = [int(i) for i in (response.task_ids or [])]
        if len(ids) != len(tasks):
            raise LabelStudioError(
                f"Label Studio at {self.url} created {len(ids)} of {len(tasks)} tasks "
                f"in project {project_id}",
                "run the push again: it reconciles what was created",
            )
        return ids

    def update_task(self, task_id: int, **fields: Any) -> None:
        self._call(f"update task {task_id}", self._sdk.tasks.update, str(task_id), **fields)

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """All tasks of the project with their annotations (JSON export, all tasks)."""
        chunks = self._call(
            f"export project {project_id}",
            self._sdk.projects.exports.download_sync,
            project_id,
            export_type="JSON",
            download_all_tasks=True,
        )
        data = self._call(f"export project {project_id}", b"".join, chunks)
        try:
            tasks = json.loads(data)
        except json.JSONDecodeError as e:
            raise LabelStudioError(
                f"Label Studio at {self.url}: export of project {project_id} is not JSON: {e}"
            ) from e
        if not isinstance(tasks, list):
            raise LabelStudioError(
                f"Label Studio at {self.url}: export of project {project_id} is not a list"
            )
        return tasks

    # -- annotations ------------------------------------------------------------------------

    def create_annotation(
        self,
        task_id: int,
        result: list[dict[str, Any]],
        *,
        completed_by: int | None = None,
        lead_time: float | None = None,
        was_cancelled: bool = False,
    ) -> int:
        extra: dict[str, Any] = {}
        if completed_by is not None:
            extra["completed_by"] = completed_by
        if lead_time is not None:
            extra["lead_time"] = lead_time
        created = self._call(
            f"annotate task {task_id}",
            self._sdk.annotations.create,
            task_id,
            result=result,
            was_cancelled=was_cancelled,
            **extra,
        )
        return int(created.id)  # type: ignore[arg-type]

    def update_annotation(self, annotation_id: int, **fields: Any) -> None:
        self._call(
            f"update annotation {annotation_id}",
            self._sdk.annotations.update,
            annotation_id,
            **fields,
        )

    def delete_annotation(self, annotation_id: int) -> None:
        self._call(
            f"delete annotation {annotation_id}", self._sdk.annotations.delete, annotation_id
        )
