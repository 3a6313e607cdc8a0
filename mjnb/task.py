"""The user-facing Task: a handle on one task id whose state is the latest snapshot seen."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .models import Button, SubmitResult, TaskAction, TaskSnapshot, TaskStatus

if TYPE_CHECKING:
    from .client import Client


class Task:
    """One Midjourney task. Its fields come from the newest snapshot; its methods call the client."""

    def __init__(self, client: "Client", snapshot: TaskSnapshot):
        self.client = client
        self.id = snapshot.id
        self._snapshot = snapshot
        self.submit_result: SubmitResult | None = None
        self.siblings: list[Task] = []  # other tasks made by the same submit (TRUEAI "Imagine all")
        self._lock = threading.Lock()

    # ------------------------------------------------------------ state

    @property
    def snapshot(self) -> TaskSnapshot:
        return self._snapshot

    def _update(self, snapshot: TaskSnapshot) -> bool:
        """Take a newer snapshot; keep what our own submit knew when the server leaves it blank."""
        with self._lock:
            old = self._snapshot
            if snapshot == old:
                return False
            fill = {}
            if not snapshot.prompt and old.prompt:
                fill["prompt"] = old.prompt
            if snapshot.action == TaskAction.UNKNOWN and old.action != TaskAction.UNKNOWN:
                fill["action"] = old.action
            if not snapshot.parent_id and old.parent_id:
                fill["parent_id"] = old.parent_id
            if not snapshot.custom_id and old.custom_id:
                fill["custom_id"] = old.custom_id
            if fill:
                from dataclasses import replace
                snapshot = replace(snapshot, **fill)
            self._snapshot = snapshot
            return True

    def _submitted(self, result: SubmitResult) -> None:
        self.submit_result = result

    def refresh(self) -> "Task":
        """Fetch the task now."""
        self._update(self.client.fetch(self.id))
        return self

    @property
    def status(self) -> TaskStatus:
        return self._snapshot.status

    @property
    def progress(self) -> int:
        return self._snapshot.progress

    @property
    def action(self) -> TaskAction:
        return self._snapshot.action

    @property
    def prompt(self) -> str:
        return self._snapshot.prompt

    @property
    def image_url(self) -> str:
        return self._snapshot.image_url

    @property
    def fail_reason(self) -> str:
        return self._snapshot.fail_reason

    @property
    def buttons(self) -> tuple[Button, ...]:
        return self._snapshot.buttons

    @property
    def parent_id(self) -> str | None:
        return self._snapshot.parent_id

    @property
    def done(self) -> bool:
        return self._snapshot.is_terminal

    @property
    def queue_ahead(self) -> int | None:
        """Jobs ahead of this one in the account's queue, as the submit answered."""
        return self.submit_result.queue_ahead if self.submit_result else None

    # ------------------------------------------------------------ actions

    def click(self, button: str | Button, **kwargs) -> "Task":
        """Press a button by label ('U1'), emoji ('🔄'), text or customId; returns the child task."""
        if not isinstance(button, Button):
            button = self._snapshot.button(button)
        return self.client.action(self.id, button.custom_id, **kwargs)

    # ------------------------------------------------------------ display

    def __repr__(self) -> str:
        snap = self._snapshot
        prompt = snap.prompt if len(snap.prompt) <= 60 else snap.prompt[:57] + "..."
        parts = [f"<Task {self.id}", str(snap.action), str(snap.status), f"{snap.progress}%"]
        if prompt:
            parts.append(repr(prompt))
        if snap.fail_reason:
            parts.append(f"failed: {snap.fail_reason!r}")
        return " ".join(parts) + ">"

    __str__ = __repr__
