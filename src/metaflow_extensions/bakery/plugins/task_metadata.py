"""One task metadata entry, as Bakery's decorators record them (`bakery verify` reads them)."""

from __future__ import annotations


def record(metadata, run_id, step_name, task_id, retry_count, field, value) -> None:
    from metaflow.metadata_provider import MetaDatum

    entry = MetaDatum(field=field, value=value, type=field, tags=["attempt_id:%d" % retry_count])
    metadata.register_metadata(run_id, step_name, task_id, [entry])
