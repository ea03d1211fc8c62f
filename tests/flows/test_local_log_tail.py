"""Tailing a task's log file on the local datastore, as the launcher does while the task runs
in its container (core has a tailer for S3 and friends only)."""

from __future__ import annotations

import metaflow  # noqa: F401 - Metaflow loads the extension's plugins before we import one

from metaflow_extensions.bakery.plugins.local_datastore import LocalLogTail


def test_each_pass_yields_the_new_complete_lines(tmp_path):
    log = tmp_path / "0.task_stdout.log"
    tail = LocalLogTail(str(log))
    assert list(tail) == []  # not saved yet
    log.write_bytes(b"one\ntw")
    assert list(tail) == [b"one\n"]
    log.write_bytes(b"one\ntwo\nthree\n")  # saved again, whole, as the task's logger does
    assert list(tail) == [b"two\n", b"three\n"]
    assert list(tail) == []
