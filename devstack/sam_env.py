"""The environment variables file of `sam local invoke --env-vars`, written when the stack starts. With it,
and `--docker-network host` (the container then reaches this machine's 127.0.0.1), a function runs in SAM's
container against the running stack: its tables, secrets, KMS key, state machine and sandboxes.

What SAM CLI gives a function's container (1.170.0, samcli/local/lambdafn/env_vars.py), whatever the file:
- each variable the function declares in the template, with the file's value for it when the file has one
  (in the function's section `{"<logical id>": {...}}`, or in `"Parameters"`, for every function), else the
  template's. A variable of the file that the function does not declare is dropped, which is why
  template.yaml declares AWS_ENDPOINT_URL (empty: AWS's endpoints) and every provider's base URL;
- AWS_REGION and AWS_DEFAULT_REGION from `--region`, and the credentials of the shell (or dummies).

So a function's section is exactly what SAM applies: its declared variables, with the values the local stack
gives them; plus the region and the dummy credentials the stack's own functions use, which SAM takes from
`--region us-east-1` and the shell instead (moto accepts any credentials), and which a process that runs a
handler with the section alone needs (the tests run each handler so). What the stack sets that no function
declares (settings such as `--pin-ttl` change) cannot reach SAM's container: the stack logs those names.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from devstack.template import Function

log = logging.getLogger("devstack.sam_env")

#: Variables SAM CLI sets itself, never from the file.
SET_BY_SAM = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
ENDPOINT = "AWS_ENDPOINT_URL"


def sam_env_vars(functions: Mapping[str, Function], local: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each function's section, by logical id: its declared variables, with the value `local` has for those
    the stack sets, and the variables SAM sets itself, from `local`."""
    return {
        logical_id: {
            **{name: local.get(name, value) for name, value in function.environment.items()},
            **{name: local[name] for name in SET_BY_SAM if name in local},
        }
        for logical_id, function in sorted(functions.items())
    }


def undeclared(functions: Mapping[str, Function], local: Mapping[str, str]) -> list[str]:
    """The variables of `local` that SAM cannot set, since no function declares them."""
    declared = {name for function in functions.values() for name in function.environment}
    return sorted(set(local) - declared - set(SET_BY_SAM))


def write_sam_env_vars(path: Path, functions: Mapping[str, Function], local: Mapping[str, str]) -> None:
    """Writes the file for `functions`, given the variables the stack sets (`local`)."""
    for logical_id, function in sorted(functions.items()):
        if ENDPOINT not in function.environment:
            log.warning(
                "%s does not declare %s: sam local invoke would run it against AWS", logical_id, ENDPOINT
            )
    left_out = undeclared(functions, local)
    if left_out:
        log.info(
            "%s: no function declares %s, so sam local invoke keeps their defaults", path, ", ".join(left_out)
        )
    text = json.dumps(sam_env_vars(functions, local), indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all: a `sam local invoke` may read it meanwhile.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
