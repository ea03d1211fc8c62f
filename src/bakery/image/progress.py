"""Transient rich progress for a bake: wheels fetched, bytecode compiled, then one bar per layer
being compressed and per blob pushed, and a line per layer built.

Nothing is drawn until there is work, and the bars vanish when done, so an up-to-date bake is
silent. Disabled, it still pushes: callers never branch on whether progress is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    Task,
    TextColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ..registry import RegistryClient
from .layers import Layer, LayerJob


class _BytesColumn(DownloadColumn):
    """Bytes done (of the total, when known); nothing for tasks that count packages."""

    def render(self, task: Task) -> Text:
        return Text("") if task.fields.get("counting") else super().render(task)


class _SpeedColumn(TransferSpeedColumn):
    def render(self, task: Task) -> Text:
        return Text("") if task.fields.get("counting") else super().render(task)


class BakeProgress:
    """Context manager wrapping `rich.progress.Progress(transient=True)` on stderr."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._layers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._progress = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                _BytesColumn(),
                _SpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            if enabled
            else None
        )

    def __enter__(self) -> BakeProgress:
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, traceback)

    @contextmanager
    def fetching(self, count: int) -> Iterator[None]:
        """A pulsing line while `count` wheels are downloaded."""
        if self._progress is None:
            yield
            return
        task = self._progress.add_task(f"fetch {count} wheel(s)", total=None, counting=True)
        try:
            yield
        finally:
            self._progress.remove_task(task)

    def compiling(self, count: int) -> Callable[[], None]:
        """A bar over `count` packages' bytecode; returns "one more package done"."""
        if self._progress is None:
            return lambda: None
        progress = self._progress
        task = progress.add_task(f"bytecode for {count} package(s)", total=count, counting=True)

        left = [count]

        def one_done() -> None:  # called from one thread: the one following the compiler
            left[0] -= 1
            if left[0] > 0:
                progress.advance(task)
            else:
                progress.remove_task(task)

        return one_done

    def layer_bytes(self, job: LayerJob, count: int) -> None:
        """Tar bytes compressed so far for a layer (called from compression threads)."""
        if self._progress is None:
            return
        with self._lock:
            task = self._layers.get(job.key)
            if task is None:
                description = f"layer {_describe(job.packages)}"
                task = self._layers[job.key] = self._progress.add_task(description, total=None)
        self._progress.advance(task, count)

    def layer_built(self, job: LayerJob, layer: Layer) -> None:
        """Log a finished layer above the bars (called from compression threads)."""
        with self._lock:
            task = self._layers.pop(job.key, None)
        if task is not None and self._progress is not None:
            self._progress.remove_task(task)
        if self._progress is not None:
            self._progress.console.log(
                f"layer {layer.digest[7:19]} {_describe(job.packages)}: "
                f"{layer.uncompressed_size / 1e6:.1f} MB -> {layer.size / 1e6:.1f} MB"
            )

    def push(
        self,
        client: RegistryClient,
        repository: str,
        digest: str,
        path: Path,
        packages: tuple[str, ...],
    ) -> bool:
        """Push one blob file with a byte bar; returns False when the registry already had it."""
        if self._progress is None:
            return client.push_blob(repository, digest, path)
        size = path.stat().st_size
        task = self._progress.add_task(f"push {_describe(packages)}", total=size)
        try:
            return client.push_blob(
                repository,
                digest,
                path,
                size=size,
                progress=lambda sent: self._progress.advance(task, sent),  # type: ignore[union-attr]
            )
        finally:
            self._progress.remove_task(task)


def _describe(packages: tuple[str, ...]) -> str:
    text = ", ".join(packages)
    return text if len(text) <= 40 else text[:37] + "..."
