"""Real annotator accounts on a real Label Studio server, driven over HTTP as a browser would.

Each annotator signs up through the organisation's invite link (the signup form, with its CSRF
token), so the server holds a real user with a password and a session; ``next_task`` asks the
server what it serves that user in a project's Label Stream (``GET /api/projects/<id>/next``,
the request the editor makes), and ``submit`` posts an annotation as that user.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from avel_annotate.domain.ls_results import labels_to_result


class Annotator:
    def __init__(self, url: str, invite_url: str, email: str) -> None:
        self.email, self.password = email, secrets.token_urlsafe(12) + "aA1"
        self.http = httpx.Client(base_url=url, follow_redirects=True, timeout=120)
        self.http.get(invite_url).raise_for_status()
        signed = self.http.post(
            invite_url,
            data={
                "email": email,
                "password": self.password,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            headers={"Referer": invite_url},
        )
        signed.raise_for_status()
        me = self.http.get("/api/current-user/whoami")
        me.raise_for_status()
        assert me.json()["email"] == email, me.text[:300]
        self.id = int(me.json()["id"])

    def close(self) -> None:
        self.http.close()

    def _headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.http.cookies["csrftoken"], "Referer": str(self.http.base_url)}

    def next_task(self, project_id: int) -> dict[str, Any] | None:
        """The task the server's stream serves this annotator now, else None."""
        got = self.http.get(f"/api/projects/{project_id}/next")
        if got.status_code == 404:
            return None
        got.raise_for_status()
        return dict(got.json())

    def submit(self, task_id: int, segments: str, category: str | None) -> int:
        posted = self.http.post(
            f"/api/tasks/{task_id}/annotations/",
            json={"result": labels_to_result(segments, category), "lead_time": 2.0},
            headers=self._headers(),
        )
        posted.raise_for_status()
        return int(posted.json()["id"])
