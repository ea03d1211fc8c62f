"""Every use Bakery makes of Metaflow's internals, in one place, each checked by a test.

Metaflow's extension points (environments, decorators, CLIs, config) are public; a few things
Bakery needs are not: how a Kubernetes pod's command is built, which attributes a user set on a
decorator, where core keeps conda packages in the datastore, what a code package holds before
it is compressed, the state core's @conda keeps per class. Each is reached through one function
here, so a Metaflow release that moves one breaks one function and one test
(tests/compat/test_compat.py), not a run. The Metaflow releases this is tested with are the range
`pyproject.toml` declares; CI runs its lowest and newest (`scripts/test.sh`).

Imported in tasks whose code package has no Bakery core: nothing here imports `bakery`.
"""

from __future__ import annotations

__all__ = [
    "as_virtual_environment",
    "card_folder_name",
    "code_package_contents",
    "code_package_pythonpath",
    "code_package_user_members",
    "conda_decorator_state",
    "datastore_package_root",
    "flow_decorators",
    "kubernetes_task_command",
    "live_card_data_writer",
    "local_card_root",
    "local_datatools_root",
    "real_environment",
    "register_task_in_local_metadata",
    "replace_local_package_commands",
    "set_conda_decorator_state",
    "steps_in_order",
    "sync_local_metadata_from_datastore",
    "sync_local_metadata_to_datastore",
    "user_defined",
    "written_attributes",
    "written_in_flow",
]


def user_defined(decorator, attribute: str) -> bool:
    """Whether the user set `attribute` on the decorator (in code or with `--with`), rather than
    Metaflow filling in its default."""
    check = getattr(decorator, "is_attribute_user_defined", None)
    if check is not None:
        return bool(check(attribute))
    return attribute in getattr(decorator, "_user_defined_attributes", ())


def flow_decorators(flow, name: str) -> list:
    """The flow-level decorators called `name` (e.g. `conda_base`) on `flow`."""
    return list(getattr(flow, "_flow_decorators", {}).get(name) or [])


def steps_in_order(flow) -> list:
    """The flow's steps in the order the flow runs them (the graph's topological order)."""
    order = {name: i for i, name in enumerate(flow._graph.sorted_nodes)}
    return sorted(flow, key=lambda step: (order.get(step.name, len(order)), step.name))


def written_in_flow(decorator) -> bool:
    """Whether a step decorator was written in the flow's code, rather than added by `--with`
    or passed on by a launcher (whose values went through Metaflow's decospec parser)."""
    return bool(decorator.statically_defined)


def written_attributes(decorator) -> dict:
    """A decorator's attributes as written, without the config expressions Metaflow evaluates
    later (`config_expr(...)`)."""
    return {
        key: value
        for key, value in decorator.attributes.items()
        if type(value).__name__ != "DelayEvaluator"
    }


def kubernetes_task_command(
    flow_datastore, metadata, environment, *, step_cmds: list[str], **task
) -> list[str]:
    """The command a Kubernetes pod runs for a task (fetch the code package, bootstrap the
    environment, run `step_cmds`, save the logs), as core Metaflow builds it. `task` holds
    flow_name, run_id, step_name, task_id, attempt, code_package_metadata, code_package_url."""
    from metaflow.plugins.kubernetes.kubernetes import Kubernetes

    launcher = Kubernetes(flow_datastore, metadata, environment)
    return launcher._command(step_cmds=step_cmds, **task)


def datastore_package_root(datastore_class, echo=None) -> str:
    """Where core Metaflow keeps conda packages in `datastore_class`'s datastore
    (`CONDA_PACKAGE_<TYPE>ROOT`, else `<sysroot>/conda`)."""
    from metaflow.plugins.pypi import _datastore_packageroot

    class _Shim:  # core's helper wants a datastore with a classmethod-like root lookup
        TYPE = datastore_class.TYPE

        @staticmethod
        def get_datastore_root_from_config(echo_fn, create_on_absent=True):
            return datastore_class.get_datastore_root_from_config(echo_fn, create_on_absent)

    return _datastore_packageroot(_Shim, echo or (lambda *args, **kwargs: None))


def code_package_contents(package) -> tuple[list[tuple[str, str]], list[tuple[object, str]]]:
    """(Metaflow's and the extensions' code files as (path, arcname), other content as
    (bytes or path, arcname)) of a code package, without waiting for it to be compressed."""
    from metaflow.packaging_sys import ContentType

    content = package._mfcontent
    code = ContentType.CODE_CONTENT.value | ContentType.MODULE_CONTENT.value
    return list(content.content_names(code)), list(content.contents(ContentType.OTHER_CONTENT))


def code_package_user_members(package, wait) -> list:
    """The user files of a code package as soon as Metaflow's packaging thread has listed
    them (`user_tuples()` would wait for the whole archive); `wait()` is called between looks."""
    thread = getattr(package, "_create_thread", None)
    while thread is not None and thread.is_alive():
        members = getattr(package, "_cached_user_members", None)
        if members is not None:
            return list(members)
        wait()
    return list(package.user_tuples())


def conda_decorator_state(decorator_class) -> object:
    """The code home core's @conda keeps per class (None until a run sets it)."""
    return decorator_class._metaflow_home


def set_conda_decorator_state(decorator_class, home, env_vars: dict) -> None:
    """Tell core's @conda where the extracted code package is and what tasks need set."""
    decorator_class._metaflow_home = home
    decorator_class._addl_env_vars = env_vars


def sync_local_metadata_to_datastore(local_dir: str, task_datastore) -> None:
    """Hand a task's local metadata back through the datastore (what a pod does)."""
    from metaflow.metadata_provider.util import sync_local_metadata_to_datastore as sync

    sync(local_dir, task_datastore)


def sync_local_metadata_from_datastore(local_dir: str, task_datastore) -> None:
    """Bring a task's local metadata from the datastore into `local_dir` (the launcher's side)."""
    from metaflow.metadata_provider.util import sync_local_metadata_from_datastore as sync

    sync(local_dir, task_datastore)


def code_package_pythonpath(code_package_metadata: str | None, dest_dir: str) -> str:
    """The PYTHONPATH entries core's task command puts first once the code package is extracted
    into `dest_dir` (without the image's own, which it appends)."""
    import json

    from metaflow.package import MetaflowPackage

    if code_package_metadata is None:  # what core assumes for launchers that pass none
        code_package_metadata = json.dumps(
            {"version": 0, "archive_format": "tgz", "mfcontent_version": 1}
        )
    exports = MetaflowPackage.get_post_extract_env_vars(code_package_metadata, dest_dir=dest_dir)
    return exports.get("PYTHONPATH") or exports.get("PYTHONPATH:") or dest_dir


def replace_local_package_commands(environment, download, install) -> None:
    """Have the task command core builds with `environment` (any environment) fetch the code
    package with the shell command `download(url)` and set up with `install(python)` on the
    local datastore, for which core has neither; other datastores keep core's."""
    core_download = environment._get_download_code_package_cmd
    core_install = environment._get_install_dependencies_cmd

    def local_download(code_package_url, datastore_type):
        if datastore_type != "local":
            return core_download(code_package_url, datastore_type)
        return download(code_package_url)

    def local_install(datastore_type):
        if datastore_type != "local":
            return core_install(datastore_type)
        return install(environment._python())

    environment._get_download_code_package_cmd = local_download
    environment._get_install_dependencies_cmd = local_install


def local_card_root() -> str:
    """Where a task's `card create` on the local datastore saves cards, and `card get` looks for
    them, from the working folder (core finds a `.metaflow` there or above)."""
    from metaflow.plugins.cards.card_datastore import CardDatastore

    return CardDatastore.get_storage_root("local")


def card_folder_name() -> str:
    """The folder of cards inside a local `.metaflow` (`mf.cards`)."""
    from metaflow.plugins.cards.card_datastore import CARD_SUFFIX

    return CARD_SUFFIX


def local_datatools_root() -> str | None:
    """The local datatools root (where IncludeFile keeps files on the local datastore), if one
    can be found from here."""
    from metaflow.plugins.datatools.local import Local

    try:
        return Local.get_root_from_config(lambda *args, **kwargs: None, create_on_absent=False)
    except TypeError:  # no local datastore root either
        return None


class _VirtualEnvironment:
    """An environment as core's @pypi / @conda see it: they accept only those named conda, pypi
    or fast-bakery, and Bakery's `uv` environment is one of them in all but name."""

    TYPE = "pypi"

    def __init__(self, environment) -> None:
        self._environment = environment

    def __getattr__(self, name):
        return getattr(self._environment, name)


def as_virtual_environment(environment):
    """`environment`, or for Bakery's `--environment=uv` a stand-in core's decorators accept."""
    if getattr(environment, "TYPE", None) == "uv" and hasattr(environment, "step_specs"):
        return _VirtualEnvironment(environment)
    return environment


def real_environment(environment):
    """The environment behind `as_virtual_environment`'s stand-in (itself otherwise)."""
    return environment._environment if isinstance(environment, _VirtualEnvironment) else environment


def register_task_in_local_metadata(metadata, run_id, step_name, task_id) -> list[str]:
    """Make a task known to this machine's local metadata (a container's own), as the launcher
    made it known to its: the Client looks tasks up there, and so does card rendering (`card
    create` builds a `Task`). Returns the `_self.json` files it made; they are dated 1970, so that
    when the task's metadata is synced back (newer files win) the launcher's copies are kept."""
    import os

    made = []
    for kind, run, step, task in (
        ("flow", None, None, None),
        ("run", run_id, None, None),
        ("step", run_id, step_name, None),
        ("task", run_id, step_name, task_id),
    ):
        if metadata._ensure_meta(kind, run, step, task):
            folder = metadata._create_and_get_metadir(metadata._flow_name, run, step, task)
            path = os.path.join(folder, "_self.json")
            os.utime(path, (0, 0))
            made.append(path)
    return made


def live_card_data_writer(card_id: str):
    """A function that stores the live data update of the running task's card `card_id` from
    this process: what `current.card[card_id].refresh()` ships, without the `card create`
    process Metaflow starts for each refresh (a second of CPU each on a small machine).

    It writes what that process writes, where it writes it: the card's updatable components,
    with the reload token of a blank card whose layout has not changed since its last render.
    """
    import time

    from metaflow import current
    from metaflow.datastore import FlowDataStore
    from metaflow.plugins import DATASTORES
    from metaflow.plugins.cards.card_datastore import CardDatastore

    collector = current.card
    uuid = collector._card_id_map[card_id]
    manager = collector._card_component_store[uuid]
    options = list(collector._card_creator._top_level_options)
    datastore_type = options[options.index("--datastore") + 1]
    root = CardDatastore.get_storage_root(datastore_type)  # as the `card` command picks it
    if root is None:
        root = options[options.index("--datastore-root") + 1]
    storage = next(d for d in DATASTORES if d.TYPE == datastore_type)
    flow_datastore = FlowDataStore(current.flow_name, storage_impl=storage, ds_root=root)
    card_datastore = CardDatastore(flow_datastore, pathspec=current.pathspec)
    card_type = manager._card_creator_args["decorator_attributes"]["type"]

    def write() -> None:
        data = manager._get_latest_data(final=False, mode="refresh")
        update = {
            "reload_token": "runtime-%s" % data["component_update_ts"],
            "data": data["components"],
            "created_on": time.time(),
        }
        card_datastore.save_data(uuid, card_type, update, card_id=card_id)

    return write
