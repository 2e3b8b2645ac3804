"""A local fix of the emulator, not of idgate: moto's Step Functions engine (ported from LocalStack) calls
the `states:startExecution` integration with the definition's field names (`StateMachineArn`, `Name`,
`Input`) where boto3 wants the API's (`stateMachineArn`, ...), so every such task fails with
`States.Runtime` ("'StateMachineArn'"). On AWS the integration works; the fast-follow workflow hands a
session to the poll workflow through it. Here its parameters are renamed by the operation's input shape,
as LocalStack does and moto's port leaves out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import ServiceModel
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

_MARK = "_devstack_renames_parameters"


def _renaming(normalise: Callable[..., None], model: ServiceModel) -> Callable[..., None]:
    @functools.wraps(normalise)
    def renamed(self: StateTaskServiceSfn, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        normalise(self, parameters, *args, **kwargs)
        action = self.resource.api_action  # "startExecution"
        operation = model.operation_model(action[:1].upper() + action[1:])
        if operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    setattr(renamed, _MARK, True)
    return renamed


def fix_step_functions_integrations() -> None:
    """Makes moto's `states:*` task integrations in this process call boto3 rightly (idempotent)."""
    normalise = StateTaskServiceSfn._normalise_parameters
    if not getattr(normalise, _MARK, False):
        # Loaded here, once: the engine's threads run while the local Lambdas swap the process's
        # environment, and a botocore loader made then may find no service at all.
        model = botocore.session.get_session().get_service_model("stepfunctions")
        StateTaskServiceSfn._normalise_parameters = _renaming(normalise, model)  # type: ignore[method-assign]
