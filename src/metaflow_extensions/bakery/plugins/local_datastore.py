"""`--with container` on the local datastore: the container sees it at the same path.

A laptop proving dev/prod parity has no S3. The task's container gets the local datastore root
(which also holds the local metadata and Bakery's package snapshots) bind-mounted at the very
path it has here, with `METAFLOW_DATASTORE_SYSROOT_LOCAL` naming it, so the task reads its
inputs, the code package and the snapshots, and writes its artifacts, logs and metadata, as a
local task does. The card root `card get` reads here is mounted the same way, and the local
datatools root (IncludeFile) read-only. The code package is copied from the mounted datastore
instead of downloaded, no datastore client is installed in the image (only what Metaflow itself
imports), and the task's logs are tailed from their files.

A rootful runtime writes as root: after the task, what it made in the datastore and card trees
is handed back to the datastore's owner (`bakery.container.ownership`), so the host user can go
on using them.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from . import compat
from .exceptions import BakeryMetaflowException


class LocalDatastoreException(BakeryMetaflowException):
    headline = "The local datastore cannot be shared with the task's container"


def shared_root(flow_datastore) -> str:
    """The local datastore's root, checked to be one the container can find at its path."""
    from metaflow.metaflow_config import DATASTORE_LOCAL_DIR

    root = os.path.abspath(flow_datastore.datastore_root)
    if os.path.basename(root) != DATASTORE_LOCAL_DIR:
        raise LocalDatastoreException(
            "the local datastore is at %s, a folder not called %s (a link resolved?): the "
            "container finds it through METAFLOW_DATASTORE_SYSROOT_LOCAL, which names the "
            "folder holding %s; set that variable to such a folder"
            % (root, DATASTORE_LOCAL_DIR, DATASTORE_LOCAL_DIR)
        )
    return root


@dataclass(frozen=True)
class LocalRoots:
    """The host folders a task on the local datastore uses, shared with its container."""

    datastore: str  # the datastore root, a folder called .metaflow
    cards: str  # where `card get` here looks (core finds it from the working directory)
    datatools: str | None  # IncludeFile's: the container's would not be computed the same way

    @classmethod
    def of(cls, flow_datastore) -> LocalRoots:
        datatools = compat.local_datatools_root()
        return cls(
            shared_root(flow_datastore),
            os.path.abspath(compat.local_card_root()),
            os.path.abspath(datatools) if datatools else None,
        )

    def mounts(self) -> list:
        from bakery.container import Mount

        os.makedirs(self.cards, exist_ok=True)  # a mount's source must exist
        mounts = [Mount(self.datastore, self.datastore, read_only=False)]
        if not _inside(self.cards, self.datastore):
            mounts.append(Mount(self.cards, self.cards, read_only=False))
        datatools = self.datatools
        if datatools and os.path.isdir(datatools) and not _inside(datatools, self.datastore):
            mounts.append(Mount(datatools, datatools, read_only=True))
        return mounts

    def environment(self) -> dict[str, str]:
        """What the task's Metaflow needs to find these folders (none found from its cwd)."""
        env = {"METAFLOW_DATASTORE_SYSROOT_LOCAL": os.path.dirname(self.datastore)}
        if self.datatools:
            env["METAFLOW_DATATOOLS_LOCALROOT"] = self.datatools
        return env

    def copy_code_package(self, environment) -> None:
        """Have `environment` (any Metaflow environment) copy the code package from the mounted
        datastore, with no datastore client to install (only the `requests` Metaflow imports,
        as core does for the other datastores, unless the image says it has it). Cards: core's
        `card create` looks for `.metaflow/mf.cards` from the task's folder (and ignores
        METAFLOW_CARD_LOCALROOT when saving), so the task's `.metaflow`, made just before, gets
        a link to this machine's card root."""
        link = "ln -sfn %s .metaflow/%s" % (shlex.quote(self.cards), compat.card_folder_name())

        def download(code_package_url):
            return "cp %s job.tar && %s" % (shlex.quote(code_package_url), link)

        def install(python):
            return (
                "if [ -z $METAFLOW_SKIP_INSTALL_DEPENDENCIES ]; then %s -m pip install -qqq "
                "--no-compile --no-cache-dir --disable-pip-version-check requests; fi" % python
            )

        compat.replace_local_package_commands(environment, download, install)

    def handing_back(self, command: list[str], flow_name: str, run_id: str) -> list[str]:
        """`command` (core's `bash -c SCRIPT`), followed by handing back what the task wrote
        in the shared folders; the exit status stays the task's."""
        from bakery.container.ownership import command_arguments

        if command[:2] != ["bash", "-c"] or len(command) != 3:
            raise LocalDatastoreException(
                "this Metaflow builds the task's command as %s, not `bash -c SCRIPT`: update "
                "Bakery" % shlex.join(command[:3])
            )
        trees = [
            (self.datastore, "%s/%s" % (flow_name, run_id)),
            (self.datastore, "%s/data" % flow_name),  # the content-addressed artifacts
            (self.cards, "%s/runs/%s" % (flow_name, run_id)),
        ]
        script = (
            'bash -c "$1"; c=$?; '
            'p=$(command -v python3 || command -v python) && "$p" -c "$2" "${@:3}"; '
            "exit $c"
        )
        return ["bash", "-c", script, "bakery-task", command[2]] + command_arguments(
            self.datastore, trees
        )


class LocalLogTail:
    """The new complete lines of a task's log file on the local datastore, each time it is
    iterated (what core's S3Tail does for a log in S3; core has none for local files)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._read = 0
        self._partial = b""  # a last line not yet complete

    def __iter__(self):
        try:
            with open(self._path, "rb") as log:
                log.seek(self._read)
                data = log.read()
        except FileNotFoundError:  # not saved yet
            return
        self._read += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            yield line + b"\n"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
