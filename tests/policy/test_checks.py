"""Each rule allows and refuses, through policies loaded from real files; messages say what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bakery.errors import BakeryError, PolicyViolation
from bakery.policy import BakeTargetRequest, ImageRequest, OnTheFlyRequest, Policy

from .texts import DIGEST_A, EXAMPLE, images_policy

PANDAS = "@pypi(packages={'pandas': '2.2.3'})"

LoadPolicy = Callable[[str], Policy]


def test_an_allowed_image_passes(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    policy.check_image("python:3.11-slim", step="start", source="@kubernetes(image=...)")
    policy.check_image("registry.example.com/ml/train:v3", step="train", source="workstation image")


def test_a_refused_image_names_step_image_source_rule_file_and_next_action(
    policy_from: LoadPolicy,
) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.check_image(
            "ubuntu:22.04", step="train", source="--with kubernetes:image=ubuntu:22.04"
        )
    message = str(raised.value)
    assert message.startswith("step 'train': image 'ubuntu:22.04'")
    assert "(docker.io/library/ubuntu:22.04, from --with kubernetes:image=ubuntu:22.04)" in message
    assert f"perimeter policy {policy.path}" in message
    assert (
        "[images] allowed = ['registry.example.com/ml/*', 'docker.io/library/python:3.11-slim']"
        in message
    )
    assert "Use an image the policy allows, or ask the administrator" in message
    assert raised.value.step == "train"
    assert isinstance(raised.value, BakeryError)


def test_an_untagged_image_is_checked_as_latest(policy_from: LoadPolicy) -> None:
    policy = policy_from(images_policy("python:latest", "registry.example.com/ml/app:v1"))
    policy.check_image("python", step="start", source="workstation image")
    with pytest.raises(PolicyViolation) as raised:
        policy.check_image("registry.example.com/ml/app", step="end", source="workstation image")
    message = str(raised.value)
    assert "(registry.example.com/ml/app:latest, from workstation image)" in message
    assert (
        "Its repository is allowed only as 'registry.example.com/ml/app:v1'; tag 'latest' is not."
        in message
    )


def test_a_digest_refused_by_tag_patterns_explains_why(policy_from: LoadPolicy) -> None:
    policy = policy_from(images_policy("python:3.11-slim"))
    with pytest.raises(PolicyViolation) as raised:
        policy.check_image(
            f"python:3.11-slim@{DIGEST_A}", step="start", source="baked by fast-bakery"
        )
    message = str(raised.value)
    assert "pinned by digest" in message
    assert "a pattern whose tag is '*' or omitted" in message
    assert f"'docker.io/library/python@{DIGEST_A}'" in message


def test_a_digest_allowed_by_a_digest_pattern(policy_from: LoadPolicy) -> None:
    policy = policy_from(images_policy(f"127.0.0.1:5000/team/envs@{DIGEST_A}"))
    policy.check_image(
        f"127.0.0.1:5000/team/envs@{DIGEST_A}", step="start", source="baked by fast-bakery"
    )
    with pytest.raises(PolicyViolation):
        policy.check_image(
            "127.0.0.1:5000/team/envs:latest", step="start", source="baked by fast-bakery"
        )


def test_a_malformed_reference_is_a_violation_naming_it(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.check_image(
            "Registry.example.com/ML/train", step="train", source="@kubernetes(image=...)"
        )
    message = str(raised.value)
    assert "step 'train': image 'Registry.example.com/ML/train'" in message
    assert "is not a valid image reference" in message
    assert "must be lowercase" in message


def test_an_empty_allowed_list_allows_no_image(policy_from: LoadPolicy) -> None:
    policy = policy_from("version = 1\n[images]\nallowed = []\n")
    with pytest.raises(PolicyViolation, match=r"\[images\] allowed = \[\]"):
        policy.check_image("python:3.11", step="start", source="workstation image")


def test_no_images_section_allows_any_image(policy_from: LoadPolicy) -> None:
    policy = policy_from("version = 1\n[dependencies]\non_the_fly = false\n")
    policy.check_image("ghcr.io/anyone/anything:1", step="start", source="workstation image")


@pytest.mark.parametrize(
    "text", ["version = 1\n", "version = 1\n[dependencies]\non_the_fly = true\n"]
)
def test_on_the_fly_environments_are_allowed_unless_forbidden(
    policy_from: LoadPolicy, text: str
) -> None:
    policy_from(text).check_on_the_fly(step="train", decorator=PANDAS)


def test_on_the_fly_false_refuses_naming_the_decorator(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.check_on_the_fly(step="train", decorator=PANDAS)
    message = str(raised.value)
    assert message.startswith(f"step 'train': {PANDAS} builds an environment on the fly")
    assert "[dependencies] on_the_fly = false" in message
    assert str(policy.path) in message
    assert "already holds its packages" in message


@pytest.mark.parametrize(
    "repository",
    [
        "registry.example.com/team/envs",
        "registry.example.com/team/envs/flow",
        "registry.example.com/team/envs/flow:abc123",
    ],
)
def test_a_bake_target_at_or_under_the_registry_passes(
    policy_from: LoadPolicy, repository: str
) -> None:
    policy_from(EXAMPLE).check_bake_target(repository, step="train")


@pytest.mark.parametrize(
    "repository",
    ["registry.example.com/team/envs2", "registry.example.com/team", "ghcr.io/team/envs"],
)
def test_a_bake_target_outside_the_registry_is_refused(
    policy_from: LoadPolicy, repository: str
) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.check_bake_target(repository, step="train")
    message = str(raised.value)
    assert message.startswith(
        f"step 'train': baked images would be pushed to {repository}, outside"
    )
    assert "[bake] registry = 'registry.example.com/team/envs'" in message
    assert "Push baked images to registry.example.com/team/envs or a repository under it" in message


def test_a_bake_target_on_a_registry_with_a_port(policy_from: LoadPolicy) -> None:
    policy = policy_from('version = 1\n[bake]\nregistry = "127.0.0.1:5000"\n')
    policy.check_bake_target("127.0.0.1:5000/envs/flow", step="train")
    with pytest.raises(PolicyViolation, match="outside 127.0.0.1:5000"):
        policy.check_bake_target("127.0.0.1:5001/envs/flow", step="train")


def test_a_malformed_bake_target_is_a_violation(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.check_bake_target("registry.example.com/Team", step="train")
    message = str(raised.value)
    assert "pushed to 'registry.example.com/Team', which is not a valid repository" in message
    assert "must be lowercase" in message


def test_no_bake_section_allows_any_target(policy_from: LoadPolicy) -> None:
    policy_from("version = 1\n").check_bake_target("ghcr.io/me/envs", step="train")


def test_violations_lists_every_refused_request_in_order(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    requests = [
        ImageRequest("start", "python:3.11-slim", "workstation image"),
        ImageRequest("train", "ubuntu", "@kubernetes(image='ubuntu')"),
        OnTheFlyRequest("train", PANDAS),
        BakeTargetRequest("train", "registry.example.com/team/envs/flow"),
        BakeTargetRequest("end", "ghcr.io/me/envs"),
    ]
    violations = policy.violations(requests)
    assert [(v.step, str(v).split(": ", 1)[1][:20]) for v in violations] == [
        ("train", "image 'ubuntu' (dock"),
        ("train", f"{PANDAS[:20]}"),
        ("end", "baked images would b"),
    ]
    assert all(isinstance(v, PolicyViolation) for v in violations)


def test_violations_is_empty_when_everything_is_allowed(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    assert policy.violations([ImageRequest("start", "python:3.11-slim", "workstation image")]) == []
    policy.enforce([])


def test_enforce_raises_one_violation_listing_them_all(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.enforce(
            [
                ImageRequest("train", "ubuntu", "@kubernetes(image='ubuntu')"),
                OnTheFlyRequest("score", PANDAS),
            ]
        )
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        f"the perimeter policy {policy.path} forbids 2 things this run asks for; "
        "the run cannot start until each is fixed:"
    )
    assert lines[1].startswith("  - step 'train': image 'ubuntu'")
    assert lines[2].startswith(f"  - step 'score': {PANDAS}")
    assert raised.value.step is None


def test_enforce_raises_a_single_violation_unchanged(policy_from: LoadPolicy) -> None:
    policy = policy_from(EXAMPLE)
    with pytest.raises(PolicyViolation) as raised:
        policy.enforce([OnTheFlyRequest("score", PANDAS)])
    assert str(raised.value).startswith("step 'score': ")
    assert raised.value.step == "score"


def test_a_request_of_another_kind_is_a_type_error(policy_from: LoadPolicy) -> None:
    with pytest.raises(TypeError, match="not a policy request"):
        policy_from(EXAMPLE).violations(["python:3.11"])  # type: ignore[list-item]


def test_named_prefixes_allow_named_environments_under_them_only():
    from bakery.policy import NamedEnvRequest, parse_policy

    policy = parse_policy(
        'version = 1\n[dependencies]\non_the_fly = false\nnamed_prefixes = ["ml-platform/"]\n',
        path=Path("/etc/bakery/policy.toml"),
    )
    ok = NamedEnvRequest("train", "ml-platform/torch", "@pypi(named_env='ml-platform/torch:1')")
    assert policy.violation(ok) is None
    bad = NamedEnvRequest("train", "ml-platformx/torch", "@pypi(named_env='ml-platformx/torch')")
    message = str(policy.violation(bad))
    assert "step 'train'" in message and "named_prefixes = ['ml-platform/']" in message
    on_the_fly = policy.violation(OnTheFlyRequest("train", "@pypi(requirements='r.txt')"))
    assert "or on a named environment under ml-platform/" in str(on_the_fly)


def test_a_dependencies_section_may_hold_named_prefixes_alone():
    from bakery.policy import parse_policy

    policy = parse_policy(
        'version = 1\n[dependencies]\nnamed_prefixes = ["team"]\n', path=Path("p.toml")
    )
    assert policy.on_the_fly is None and policy.named_prefixes == ("team",)
