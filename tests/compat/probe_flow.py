"""A flow whose objects the compat probe hands to each of Bakery's accesses to Metaflow's internals.

Run as `python probe_flow.py` (see test_compat.py): it prints one JSON object, an entry per access,
each the access's result or the error it raised, so one broken access does not hide the others.
"""

import json
import os
import sys
import time
import traceback

from metaflow import FlowSpec, conda_base, kubernetes, pypi, step


@conda_base(python="3.11")
class CompatProbeFlow(FlowSpec):
    @kubernetes(image="team/app:1")
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def _step(flow, name):
    return next(s for s in flow if s.name == name)


def probe_user_defined(flow):
    from metaflow_extensions.bakery.plugins import compat

    deco = {d.name: d for d in _step(flow, "start").decorators}
    return {
        "kubernetes.image": compat.user_defined(deco["kubernetes"], "image"),
        "kubernetes.cpu": compat.user_defined(deco["kubernetes"], "cpu"),
        "pypi.packages": compat.user_defined(deco["pypi"], "packages"),
        "pypi.python": compat.user_defined(deco["pypi"], "python"),
    }


def probe_flow_decorators(flow):
    from metaflow_extensions.bakery.plugins import compat

    found = compat.flow_decorators(flow, "conda_base")
    return [d.attributes.get("python") for d in found]


def probe_steps_in_order(flow):
    from metaflow_extensions.bakery.plugins import compat

    return [step.name for step in compat.steps_in_order(flow)]


def probe_written_in_flow(flow):
    from metaflow_extensions.bakery.plugins import compat

    written = {d.name: d for d in _step(flow, "start").decorators}["pypi"]
    added = type(written)(attributes={"packages": {"six": ""}})  # as --with makes one
    return {"written": compat.written_in_flow(written), "added": compat.written_in_flow(added)}


def probe_written_attributes(flow):
    from metaflow import config_expr

    from metaflow_extensions.bakery.plugins import compat

    written = {d.name: d for d in _step(flow, "start").decorators}["pypi"]
    deferred = type(written)(attributes={"packages": config_expr("cfg.packages"), "python": "3.11"})
    return {
        "written": compat.written_attributes(written)["packages"],
        "deferred": sorted(compat.written_attributes(deferred)),
    }


def probe_as_virtual_environment(flow):
    """Core's @pypi accepts only environments named conda, pypi or fast-bakery: Bakery's `uv`
    environment passes as its stand-in, and the stand-in leads back to it."""
    from metaflow.plugins.pypi.pypi_decorator import PyPIStepDecorator

    from metaflow_extensions.bakery.plugins import compat
    from metaflow_extensions.bakery.plugins.environments.uv import BakeryUVEnvironment

    uv = BakeryUVEnvironment(flow)

    def step_init(environment):
        decorator = PyPIStepDecorator(attributes={"packages": {}})
        try:
            decorator.step_init(flow, flow._graph, "start", [], environment, None, print)
        except Exception as error:  # noqa: BLE001 - its kind is the answer
            return type(error).__name__
        return "accepted"

    stand_in = compat.as_virtual_environment(uv)
    return {
        "uv": step_init(uv),
        "stand_in": step_init(stand_in),
        "real": compat.real_environment(stand_in) is uv,
    }


def _environment(flow):
    from metaflow.metaflow_environment import MetaflowEnvironment

    return MetaflowEnvironment(flow)


def probe_kubernetes_task_command(flow):
    from metaflow.datastore import FlowDataStore
    from metaflow.plugins.datastores.s3_storage import S3Storage

    from metaflow_extensions.bakery.plugins import compat

    environment = _environment(flow)
    datastore = FlowDataStore(
        flow.name, environment, None, None, None, storage_impl=S3Storage, ds_root="s3://b/mf"
    )
    return compat.kubernetes_task_command(
        datastore,
        None,
        environment,
        step_cmds=["echo probe-step"],
        flow_name=flow.name,
        run_id="1",
        step_name="start",
        task_id="2",
        attempt="0",
        code_package_metadata="{}",
        code_package_url="s3://b/mf/package.tgz",
    )


def probe_datastore_package_root(flow):
    from metaflow.plugins.datastores.local_storage import LocalStorage

    from metaflow_extensions.bakery.plugins import compat

    return compat.datastore_package_root(LocalStorage)


def _package(flow):
    from metaflow.package import MetaflowPackage

    return MetaflowPackage(flow, _environment(flow), lambda *args, **kwargs: None)


def probe_code_package_contents(flow):
    from metaflow_extensions.bakery.plugins import compat

    code, other = compat.code_package_contents(_package(flow))
    return {
        "code": sorted(arc for _, arc in code),
        "other": sorted(arc for _, arc in other),
    }


def probe_code_package_user_members(flow):
    from metaflow_extensions.bakery.plugins import compat

    members = compat.code_package_user_members(_package(flow), lambda: time.sleep(0.001))
    return sorted(arc for _, arc in members)


def probe_conda_decorator_state(flow):
    from metaflow_extensions.bakery.plugins import compat
    from metaflow_extensions.bakery.plugins.decorators.conda_step import (
        BakeryCondaStepDecorator,
    )

    before = compat.conda_decorator_state(BakeryCondaStepDecorator)
    compat.set_conda_decorator_state(BakeryCondaStepDecorator, "home", {"A": "1"})
    after = compat.conda_decorator_state(BakeryCondaStepDecorator)
    env_vars = BakeryCondaStepDecorator._addl_env_vars
    compat.set_conda_decorator_state(BakeryCondaStepDecorator, before, {})
    return {"before": before, "after": after, "env_vars": env_vars}


def probe_local_metadata_sync(flow):
    """Metadata a task wrote under `.metaflow`, handed through the datastore and back into the
    launcher's local datastore root (METAFLOW_DATASTORE_SYSROOT_LOCAL), as a pod's is."""
    import tempfile

    from metaflow.datastore import FlowDataStore
    from metaflow.plugins.datastores.local_storage import LocalStorage

    from metaflow_extensions.bakery.plugins import compat

    datastore = FlowDataStore(
        flow.name,
        _environment(flow),
        None,
        None,
        None,
        storage_impl=LocalStorage,
        ds_root=tempfile.mkdtemp(),
    )
    task_ds = datastore.get_task_datastore("1", "start", "2", attempt=0, mode="w")
    task_ds.init_task()
    os.chdir(tempfile.mkdtemp())  # the task's folder
    meta = os.path.join(".metaflow", flow.name, "1", "start", "2", "_meta")
    os.makedirs(meta)
    with open(os.path.join(meta, "probe.json"), "w") as f:
        f.write('{"ok": true}')
    compat.sync_local_metadata_to_datastore(".metaflow", task_ds)
    read_ds = datastore.get_task_datastore(
        "1", "start", "2", attempt=0, mode="r", allow_not_done=True
    )
    compat.sync_local_metadata_from_datastore(".metaflow", read_ds)
    root = LocalStorage.get_datastore_root_from_config(lambda *args, **kwargs: None)
    found = []
    for folder, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, n), root) for n in names]
    return sorted(found)


def probe_code_package_pythonpath(flow):
    from metaflow_extensions.bakery.plugins import compat

    metadata = json.dumps({"version": 0, "archive_format": "tgz", "mfcontent_version": 1})
    return [
        compat.code_package_pythonpath(metadata, "$(pwd)"),
        compat.code_package_pythonpath(None, "/task"),
    ]


def probe_replace_local_package_commands(flow):
    """The pod command core builds for a task on the local datastore, with Bakery's commands."""
    import tempfile

    from metaflow.datastore import FlowDataStore
    from metaflow.plugins.datastores.local_storage import LocalStorage

    from metaflow_extensions.bakery.plugins import compat

    environment = _environment(flow)
    datastore = FlowDataStore(
        flow.name,
        environment,
        None,
        None,
        None,
        storage_impl=LocalStorage,
        ds_root=tempfile.mkdtemp(),
    )
    compat.replace_local_package_commands(
        environment, lambda url: "cp %s job.tar" % url, lambda python: "%s --version" % python
    )
    return compat.kubernetes_task_command(
        datastore,
        None,
        environment,
        step_cmds=["echo probe-step"],
        flow_name=flow.name,
        run_id="1",
        step_name="start",
        task_id="2",
        attempt="0",
        code_package_metadata=None,
        code_package_url="/ds/.metaflow/Flow/data/ab/abc",
    )


def probe_local_roots(flow):
    from metaflow_extensions.bakery.plugins import compat

    return {
        "cards": compat.local_card_root(),
        "card_folder": compat.card_folder_name(),
        "datatools": compat.local_datatools_root(),
    }


def probe_register_task_in_local_metadata(flow):
    """A container's local metadata learns the task the launcher registered: the Client finds
    it, and the files are dated so that the launcher's own copies win on the way back."""
    import tempfile

    from metaflow import Task, namespace
    from metaflow.plugins.metadata_providers.local import LocalMetadataProvider

    from metaflow_extensions.bakery.plugins import compat

    os.chdir(tempfile.mkdtemp())  # the container's working directory
    provider = LocalMetadataProvider(_environment(flow), flow, None, None)
    made = compat.register_task_in_local_metadata(provider, "7", "start", "3")
    again = compat.register_task_in_local_metadata(provider, "7", "start", "3")
    namespace(None)
    task = Task("%s/7/start/3" % flow.name, _namespace_check=False)
    return {
        "made": [p.split("/.metaflow/", 1)[1] for p in made],
        "again": again,
        "mtimes": sorted({os.path.getmtime(p) for p in made}),
        "task": task.pathspec,
    }


def probe_live_card_data_writer(flow):
    """A live card's data update written from the task's own process, where `card create`
    would have written it: the card's folder of the local card root."""
    import tempfile

    from metaflow import current
    from metaflow.cards import Markdown
    from metaflow.plugins.cards.card_creator import CardCreator
    from metaflow.plugins.cards.component_serializer import CardComponentCollector

    from metaflow_extensions.bakery.plugins import compat

    os.chdir(tempfile.mkdtemp())  # the task's folder: the local card root is found from here
    options = ["--quiet", "--datastore", "local", "--datastore-root", os.getcwd()]
    collector = CardComponentCollector(None, CardCreator(options, lambda uuid: (False, {})))
    current._set_env(flow=flow, run_id="5", step_name="start", task_id="6", retry_count=0)
    current._update_env({"card": collector})
    attributes = {"type": "blank", "id": "probe", "timeout": 45, "save_errors": True}
    collector._add_card("blank", "probe", attributes, None, editable=True, runtime_card=True)
    collector._finalize()
    text = Markdown("before")
    current.card["probe"].append(text)
    write = compat.live_card_data_writer("probe")
    text.update("after")
    write()
    found = []
    for folder, _, names in os.walk(os.getcwd()):
        found += [os.path.join(folder, name) for name in names]
    (path,) = found
    with open(path) as f:
        update = json.load(f)
    return {
        "path": os.path.relpath(path, os.getcwd()).rsplit("-", 1)[0],
        "token": update["reload_token"].split("-")[0],
        "sources": [c.get("source", "").strip() for c in update["data"].values()],
    }


def main():
    flow = CompatProbeFlow(use_cli=False)
    results = {}
    for name, probe in sorted(globals().items()):
        if name.startswith("probe_"):
            try:
                results[name[len("probe_") :]] = {"value": probe(flow)}
            except Exception:  # one broken access must not hide the others
                results[name[len("probe_") :]] = {"error": traceback.format_exc()}
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    sys.argv = sys.argv[:1]
    main()
