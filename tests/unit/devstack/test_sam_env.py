"""The file for `sam local invoke --env-vars` holds, per function, what SAM CLI applies: the variables the
function declares, with the local stack's values, and the region and credentials (which SAM sets itself).
(tests/e2e/test_sam_env_vars.py runs every handler with it against the running stack.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from devstack.__main__ import DEFAULT_ENV_VARS_FILE, parse_args
from devstack.lambdas import local_aws_variables
from devstack.sam_env import sam_env_vars, write_sam_env_vars
from devstack.sandboxes import SANDBOXES
from devstack.template import REPO_ROOT, Function, load_template

LOCAL = {
    **local_aws_variables("http://127.0.0.1:4566"),
    "JEKIMO_BASE_URL": "http://127.0.0.1:3001",
    "PIN_TTL": "9",
}


def function(name: str, **environment: str) -> Function:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return Function(name, name, arn, Path("/nowhere"), "app.handler", environment, 3, 128)


def test_a_functions_section_is_its_declared_variables_with_the_stacks_values_and_the_region() -> None:
    # Given a function that declares the endpoint, a provider URL and a table, and one with a table only
    functions = {
        "Api": function(
            "Api", AWS_ENDPOINT_URL="", JEKIMO_BASE_URL="https://jekimo.example", TABLE="Sessions"
        ),
        "Keys": function("Keys", TABLE="Keys"),
    }

    # When their sections are made, the stack setting the endpoint, the provider's URL and a PIN_TTL
    sections = sam_env_vars(functions, LOCAL)

    # Then each has its declared variables (the stack's value where it sets one), the region and credentials;
    # nothing it does not declare, which SAM would drop
    sam_sets = {name: LOCAL[name] for name in ("AWS_REGION", "AWS_DEFAULT_REGION")} | {
        "AWS_ACCESS_KEY_ID": "devstack",
        "AWS_SECRET_ACCESS_KEY": "devstack",
    }
    assert sections == {
        "Api": {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "JEKIMO_BASE_URL": "http://127.0.0.1:3001",
            "TABLE": "Sessions",
            **sam_sets,
        },
        "Keys": {"TABLE": "Keys", **sam_sets},
    }


def test_the_file_is_written_whole_and_names_what_sam_cannot_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    functions = {"Api": function("Api", AWS_ENDPOINT_URL=""), "Keys": function("Keys", TABLE="Keys")}
    path = tmp_path / ".devstack" / "env.json"

    with caplog.at_level(logging.INFO, logger="devstack.sam_env"):
        write_sam_env_vars(path, functions, LOCAL)

    assert json.loads(path.read_text()) == sam_env_vars(functions, LOCAL)
    assert [p.name for p in path.parent.iterdir()] == ["env.json"]  # no temporary file left
    # A function that would call AWS itself is named, as are the stack's settings no function declares
    assert "Keys does not declare AWS_ENDPOINT_URL" in caplog.text
    assert "no function declares JEKIMO_BASE_URL, PIN_TTL" in caplog.text


def test_the_templates_functions_declare_what_points_them_at_the_local_stack() -> None:
    # SAM applies only declared variables: the endpoint, and every sandbox's URL (`<NAME>_BASE_URL`)
    needed = {"AWS_ENDPOINT_URL", *(f"{sandbox.name.upper()}_BASE_URL" for sandbox in SANDBOXES)}
    for logical_id, declared in load_template().functions().items():
        assert needed <= set(declared.environment), logical_id
        # ...and on AWS the endpoint is empty: botocore then uses AWS's own
        assert declared.environment["AWS_ENDPOINT_URL"] == ""


def test_make_run_writes_the_file_under_the_repository_unless_told_where() -> None:
    assert parse_args([]).env_vars_file == DEFAULT_ENV_VARS_FILE == REPO_ROOT / ".devstack" / "env.json"
    assert parse_args(["--env-vars-file", "/tmp/x.json"]).env_vars_file == Path("/tmp/x.json")  # noqa: S108
    assert ".devstack/" in (REPO_ROOT / ".gitignore").read_text().splitlines()
