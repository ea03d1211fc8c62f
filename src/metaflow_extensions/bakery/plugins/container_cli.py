"""`container step`: what `--with container` runs for each task, in place of the step itself.

It builds the command a Kubernetes pod gets for the task (core Metaflow's own: fetch the code
package, bootstrap the environment, run the step, save its logs), hands the container the same
Metaflow settings a pod gets, and runs it with podman or docker (`bakery.container`), output
streamed. The task's exit status is the container's.
"""

from __future__ import annotations

import json
import os
import sys

from metaflow import util
from metaflow._vendor import click
from metaflow.exception import METAFLOW_EXIT_DISALLOW_RETRY

from . import compat, local_datastore
from .exceptions import BakeryMetaflowException

# what a pod gets from the launcher's own environment, when set here (no value goes on the
# runtime's command line: bakery.container hands them over in a private env file)
PASS_THROUGH = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


class ContainerStepException(BakeryMetaflowException):
    headline = "The task's container could not be started"


@click.group()
def cli():
    pass


@cli.group(help="Run tasks in containers on this machine (podman or docker).")
def container():
    pass


@container.command(
    help="Internal: run one task in its image (what --with container launches).",
    context_settings={"ignore_unknown_options": True},
)
@click.argument("step-name")
@click.argument("code-package-metadata")
@click.argument("code-package-sha")
@click.argument("code-package-url")
@click.option("--executable", help="Executable requirement for the container.")
@click.option("--image", help="The image to run the task in.")
@click.option("--run-id", help="Passed to the top-level 'step'.")
@click.option("--task-id", help="Passed to the top-level 'step'.")
@click.option("--input-paths", help="Passed to the top-level 'step'.")
@click.option("--split-index", help="Passed to the top-level 'step'.")
@click.option("--clone-path", help="Passed to the top-level 'step'.")
@click.option("--clone-run-id", help="Passed to the top-level 'step'.")
@click.option("--tag", multiple=True, default=None, help="Passed to the top-level 'step'.")
@click.option("--namespace", default=None, help="Passed to the top-level 'step'.")
@click.option("--retry-count", default=0, help="Passed to the top-level 'step'.")
@click.option("--max-user-code-retries", default=0, help="Passed to the top-level 'step'.")
@click.option("--ubf-context", default=None, help="Passed to the top-level 'step'.")
@click.pass_context
def step(
    ctx,
    step_name,
    code_package_metadata,
    code_package_sha,
    code_package_url,
    executable=None,
    image=None,
    **kwargs,
):
    from metaflow.metaflow_config import DATASTORE_LOCAL_DIR

    from bakery.container import RunSpec
    from bakery.errors import BakeryError

    obj = ctx.obj
    node = obj.graph[step_name]
    for decorator in node.decorators:  # the image the launcher settled on (baked, or the user's)
        if decorator.name == "container" and image:
            decorator.attributes["image"] = image
    executable = obj.environment.executable(step_name, executable)
    env = {"METAFLOW_FLOW_FILENAME": os.path.basename(sys.argv[0])}
    env_decorators = [d for d in node.decorators if d.name == "environment"]
    if env_decorators:
        env.update(env_decorators[0].attributes["vars"])
    input_paths = kwargs.get("input_paths")
    if input_paths:  # long input paths travel in variables, as for a pod
        chunk = 30 * 1024
        parts = {
            "METAFLOW_INPUT_PATHS_%d" % (i // chunk): input_paths[i : i + chunk]
            for i in range(0, len(input_paths), chunk)
        }
        kwargs["input_paths"] = "".join("${%s}" % name for name in parts)
        env.update(parts)
    kwargs.pop("ubf_context", None)
    retry_count = int(kwargs.get("retry_count", 0))
    step_cli = "{entrypoint} {top_args} step {step} {step_args}".format(
        entrypoint="%s -u %s" % (executable, os.path.basename(sys.argv[0])),
        top_args=" ".join(util.dict_to_cli_options(ctx.parent.parent.params)),
        step=step_name,
        step_args=" ".join(util.dict_to_cli_options(kwargs)),
    )
    task_id = kwargs["task_id"]
    run_id = kwargs["run_id"]
    roots = None
    if obj.flow_datastore.TYPE == "local":
        roots = local_datastore.LocalRoots.of(obj.flow_datastore)
        roots.copy_code_package(obj.environment)
    command = compat.kubernetes_task_command(
        obj.flow_datastore,
        obj.metadata,
        obj.environment,
        flow_name=obj.flow.name,
        run_id=run_id,
        step_name=step_name,
        task_id=task_id,
        attempt=str(retry_count),
        code_package_metadata=code_package_metadata,
        code_package_url=code_package_url,
        step_cmds=[step_cli],
    )
    env.update(
        pod_environment(
            obj, run_id, image, code_package_metadata, code_package_sha, code_package_url
        )
    )
    mounts = []
    if roots is not None:
        env.update(roots.environment())
        mounts = roots.mounts()
        command = roots.handing_back(command, obj.flow.name, run_id)
    spec = RunSpec(
        image=image,
        command=command,
        env=env,
        mounts=mounts,
        workdir="/tmp",
        name="metaflow-%s-%s-%s-%s" % (obj.flow.name.lower(), run_id, step_name, task_id),
        labels={"metaflow.flow": obj.flow.name, "metaflow.run": str(run_id)},
    )

    def echo(msg, stream="stderr", **kwargs):
        obj.echo_always(msg, err=(stream == "stderr"), **kwargs)

    task_ds = obj.flow_datastore.get_task_datastore(
        mode="w", run_id=run_id, step_name=step_name, task_id=task_id, attempt=retry_count
    )
    try:
        result = _run_tailing_logs(spec, task_ds, obj.flow_datastore.TYPE, echo)
    except BakeryError as e:
        raise ContainerStepException("step '%s': %s" % (step_name, e)) from None
    if obj.metadata.TYPE == "local" and result.ok and roots is None:
        compat.sync_local_metadata_from_datastore(
            DATASTORE_LOCAL_DIR,
            obj.flow_datastore.get_task_datastore(run_id, step_name, task_id),
        )
    if not result.ok and result.stderr:  # the container's own output: the runtime, the shell
        echo("[container] %s" % result.stderr.strip()[-3000:], "stderr")
    if result.exit_code in (125, 126, 127):  # the runtime's own failures: no user code ran
        sys.exit(METAFLOW_EXIT_DISALLOW_RETRY)
    sys.exit(result.exit_code)


def _run_tailing_logs(spec, task_ds, datastore_type, echo):
    """Run the container in a thread while the task's logs (saved to the datastore by the task
    command, as in a pod) are printed here as they arrive."""
    import threading

    from metaflow.mflog import TASK_LOG_SOURCE, get_log_tailer, tail_logs

    from bakery.container import pull, run_container

    pull(spec.image)  # pull errors come first, before any task output
    outcome = {}

    def run():
        try:
            outcome["result"] = run_container(spec, stream=False, pull_first=False)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = e

    def tailer(stream):
        location = task_ds.get_log_location(TASK_LOG_SOURCE, stream)
        if datastore_type == "local":
            return local_datastore.LocalLogTail(location)
        return get_log_tailer(location, datastore_type)

    thread = threading.Thread(target=run, name="bakery-container", daemon=True)
    thread.start()
    tail_logs(
        prefix=b"",
        stdout_tail=tailer("stdout"),
        stderr_tail=tailer("stderr"),
        echo=echo,
        has_log_updates=thread.is_alive,
    )
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def pod_environment(obj, run_id, image, metadata, sha, url):
    """The Metaflow settings a Kubernetes pod gets for a task (core's job spec), for the container."""
    from metaflow import metaflow_config as config

    env = {
        "METAFLOW_CODE_METADATA": metadata,
        "METAFLOW_CODE_SHA": sha,
        "METAFLOW_CODE_URL": url,
        "METAFLOW_CODE_DS": obj.flow_datastore.TYPE,
        "METAFLOW_USER": util.get_username(),
        "METAFLOW_RUN_ID": str(run_id),
        "METAFLOW_DEFAULT_DATASTORE": obj.flow_datastore.TYPE,
        "METAFLOW_DEFAULT_METADATA": config.DEFAULT_METADATA,
        "METAFLOW_RUNTIME_ENVIRONMENT": "container",
        "METAFLOW_CONTAINER_IMAGE": image,
    }
    optional = {
        "METAFLOW_SERVICE_URL": config.SERVICE_INTERNAL_URL,
        "METAFLOW_SERVICE_HEADERS": json.dumps(config.SERVICE_HEADERS)
        if config.SERVICE_HEADERS
        else None,
        "METAFLOW_DATASTORE_SYSROOT_S3": config.DATASTORE_SYSROOT_S3,
        "METAFLOW_DATATOOLS_S3ROOT": config.DATATOOLS_S3ROOT,
        "METAFLOW_CARD_S3ROOT": config.CARD_S3ROOT,
        "METAFLOW_S3_ENDPOINT_URL": config.S3_ENDPOINT_URL,
        "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": config.DEFAULT_SECRETS_BACKEND_TYPE,
        "METAFLOW_DEFAULT_AWS_CLIENT_PROVIDER": config.DEFAULT_AWS_CLIENT_PROVIDER,
        "METAFLOW_DATASTORE_SYSROOT_AZURE": config.DATASTORE_SYSROOT_AZURE,
        "METAFLOW_DATASTORE_SYSROOT_GS": config.DATASTORE_SYSROOT_GS,
    }
    env.update({k: str(v) for k, v in optional.items() if v})
    for name, value in os.environ.items():
        if name in PASS_THROUGH or name.startswith(("METAFLOW_CONDA_", "METAFLOW_DEBUG_")):
            env[name] = value
    return env
