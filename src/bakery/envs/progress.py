"""Progress while resolving and building environments: rich spinners on a terminal, plain
log lines elsewhere, nothing at all when everything is cached (no work, no output)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

from ..lock.model import LockedEnv


class EnvProgress:
    """Reports environment work; `log` receives the lines kept in the output for the record."""

    def __init__(self, log: Callable[[str], None], *, live: bool | None = None) -> None:
        self._log = log
        self._live = sys.stderr.isatty() if live is None else live
        self._progress = None
        self._tasks: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> EnvProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _bars(self):
        if self._progress is None:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
        return self._progress

    def building(self, env: LockedEnv) -> None:
        text = f"Creating environment {env.short_id} ({len(env.packages)} packages)"
        with self._lock:
            if self._live:
                task = self._bars().add_task(text, total=None)
                self._tasks[env.env_id] = (task, time.monotonic())
            else:
                self._tasks[env.env_id] = (-1, time.monotonic())
                self._log(text + " ...")

    def built(self, env: LockedEnv) -> None:
        with self._lock:
            task, started = self._tasks.pop(env.env_id, (-1, time.monotonic()))
            if task >= 0 and self._progress is not None:
                self._progress.remove_task(task)
            if self._live:
                self._log(
                    f"Created environment {env.short_id} in {time.monotonic() - started:.1f}s"
                )

    def resolving(self, count: int) -> Callable[[], None]:
        """Show that `count` step specs are being resolved; returns the function ending it."""
        text = f"Resolving {count} step environment(s) with uv / rattler"
        if not self._live:
            return lambda: None
        with self._lock:
            task = self._bars().add_task(text, total=None)

        def done() -> None:
            with self._lock:
                self._bars().remove_task(task)

        return done
