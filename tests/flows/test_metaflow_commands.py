"""Metaflow's own commands keep working under Bakery's environments: show, package list,
resume, cards and the Client API."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, card, current, pypi, step

class CommandsFlow(FlowSpec):
    @card
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        import six
        from metaflow.cards import Markdown
        current.card.append(Markdown("six " + six.__version__))
        self.value = 42
        self.next(self.end)

    @step
    def end(self):
        self.doubled = self.value * 2

if __name__ == "__main__":
    CommandsFlow()
"""


@pytest.mark.compat
def test_show_package_list_resume_cards_and_client(flows):
    flow = flows.write("commands.py", FLOW)
    flows.run(flow).check()

    shown = flows.run(flow, "show").check()
    assert "start" in shown.output and "end" in shown.output

    listed = flows.run(flow, "package", "list").check()
    assert "commands.bakery.lock" in listed.output

    flows.run(flow, "resume", "end").check()

    card = flows.run(flow, "card", "get", "start").check()
    assert "<html" in card.output

    client = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import json\n"
                "from metaflow import Flow, namespace\n"
                "namespace(None)\n"
                "run = Flow('CommandsFlow').latest_successful_run\n"
                "task = run['start'].task\n"
                "print(json.dumps({'doubled': run.data.doubled,"
                " 'env': task.metadata_dict.get('bakery_env_id')}))\n"
            ),
        ],
        cwd=flows.folder,
        env=flows.env,
        capture_output=True,
        text=True,
    )
    assert client.returncode == 0, client.stderr
    answer = json.loads(client.stdout.strip().splitlines()[-1])
    lock = json.loads((flows.folder / "commands.bakery.lock").read_text())
    assert answer == {"doubled": 84, "env": lock["steps"]["start"]["linux-64"]}
