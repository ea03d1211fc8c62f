"""Transient rich progress for a bake: one line per layer built and per blob pushed.

Nothing is drawn until there is work, and the bars vanish when done, so an up-to-date bake is
silent. Disabled, it still pushes: callers never branch on whether progress is shown.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from ..registry import RegistryClient
from .layers import Layer, LayerJob


class BakeProgress:
    """Context manager wrapping `rich.progress.Progress(transient=True)` on stderr."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._progress = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
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

    def layer_built(self, job: LayerJob, layer: Layer) -> None:
        """Log a finished layer above the bars (called from compression threads)."""
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
