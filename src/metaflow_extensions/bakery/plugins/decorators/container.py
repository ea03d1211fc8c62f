"""`@container` / `--with container`: a step's tasks run in its image on this machine.

The task runs the way a Kubernetes pod would run it: the same command (fetch the code package
from the datastore, bootstrap the environment, run the step, save its logs), the same Metaflow
settings, the same image (baked by `--environment=fast-bakery`, a 3rd-party `image=`, or the
configured default), only through podman or docker here (`bakery.container`). So it proves
dev/prod parity without a cluster. The container shares the host's network and reaches the
datastore as a pod would (S3 and friends), or, on the local datastore, sees it mounted at the
same path (`local_datastore`).
"""

from __future__ import annotations

import platform
import sys

from metaflow.decorators import StepDecorator

from .. import compat, policy_gate, workstation
from ..task_metadata import record


class ContainerDecorator(StepDecorator):
    """@container(image=None): run the step in `image` with podman or docker on this machine.

    Without `image`, the step runs in the image fast-bakery bakes for it, else in the workstation
    image (METAFLOW_BAKERY_WORKSTATION_IMAGE), else METAFLOW_KUBERNETES_CONTAINER_IMAGE, else the
    official python:X.Y image.
    """

    name = "container"
    defaults = {"image": None}
    supports_conda_environment = True  # Bakery's environments lock (and bake) it for linux-64
    target_platform = "linux-64"

    package_url = None
    package_sha = None
    package_metadata = None

    def step_init(self, flow, graph, step, decos, environment, flow_datastore, logger):
        if not self.attributes["image"]:
            from metaflow.metaflow_config import KUBERNETES_CONTAINER_IMAGE

            self.attributes["image"] = KUBERNETES_CONTAINER_IMAGE or "python:%s.%s" % tuple(
                platform.python_version_tuple()[:2]
            )
        workstation.apply(self, logger)
        if flow_datastore.TYPE == "local":
            from ..local_datastore import shared_root

            shared_root(flow_datastore)  # a datastore the container cannot share: say so now
        self.flow_datastore = flow_datastore
        self.step = step
        policy_gate.check_step_image(flow, step, self, environment)

    def runtime_init(self, flow, graph, package, run_id):
        self.flow = flow
        self.package = package

    def runtime_task_created(
        self, task_datastore, task_id, split_index, input_paths, is_cloned, ubf_context
    ):
        if not is_cloned:
            self._save_package_once(self.flow_datastore, self.package)

    def runtime_step_cli(self, cli_args, retry_count, max_user_code_retries, ubf_context):
        if retry_count <= max_user_code_retries:
            cli_args.commands = ["container", "step"]
            cli_args.command_args.append(self.package_metadata)
            cli_args.command_args.append(self.package_sha)
            cli_args.command_args.append(self.package_url)
            cli_args.command_options["image"] = self.attributes["image"]
            cli_args.entrypoint[0] = sys.executable

    def task_pre_step(
        self,
        step_name,
        task_datastore,
        metadata,
        run_id,
        task_id,
        flow,
        graph,
        retry_count,
        max_retries,
        ubf_context,
        inputs,
    ):
        import os

        self.metadata = metadata
        self.task_datastore = task_datastore
        image = os.environ.get("METAFLOW_CONTAINER_IMAGE")
        if image:
            record(metadata, run_id, step_name, task_id, retry_count, "container-image", image)
            if metadata.TYPE == "local":
                # the launcher registered the task in its own local metadata; card rendering
                # in here looks the task up with the Client, in the container's
                compat.register_task_in_local_metadata(metadata, run_id, step_name, task_id)

    def task_finished(self, step_name, flow, graph, is_task_ok, retry_count, max_retries):
        import os

        # inside the container (not a local fallback of @catch): hand local metadata back to
        # the launcher through the datastore, as a pod does; on the local datastore the
        # container wrote it in place (local_datastore)
        if os.environ.get("METAFLOW_CONTAINER_IMAGE") and hasattr(self, "metadata"):
            if self.metadata.TYPE == "local" and self.task_datastore.TYPE != "local":
                from metaflow.metaflow_config import DATASTORE_LOCAL_DIR

                compat.sync_local_metadata_to_datastore(DATASTORE_LOCAL_DIR, self.task_datastore)

    @classmethod
    def _save_package_once(cls, flow_datastore, package):
        if cls.package_url is None:
            cls.package_url = package.package_url()
            cls.package_sha = package.package_sha()
            if not cls.package_url:  # this Metaflow does not upload it by itself
                cls.package_url, cls.package_sha = flow_datastore.save_data(
                    [package.blob], len_hint=1
                )[0]
            cls.package_metadata = package.package_metadata
