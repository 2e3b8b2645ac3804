"""The SAM transform, offline: template.yaml as the CloudFormation `sam validate` and CloudFormation make.

This is aws-sam-translator, the library `sam` itself runs, pinned to the SAM CLI's version. It is given what
`sam validate` gives it, without calls to AWS: local paths stand in for S3 locations, and AWS managed policies
named in Policies come from the map bundled with it (a name it does not know stays as it is).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# The transform wants S3 locations: a local path (relative to the template) goes through as a key here.
LOCAL_BUCKET = "local-path"
_LOCAL_PATH_PROPERTY = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def sam_transform(document: Mapping[str, Any], parameter_values: Mapping[str, str]) -> dict[str, Any]:
    """The SAM template `document` as CloudFormation; `parameter_values` has the pseudo parameters too."""
    # Imported here: the translator is slow to import, and most users of devstack.template want no transform.
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(dict(document))  # the translator changes what it is given
    function_globals = (sam.get("Globals") or {}).get("Function") or {}
    _as_local_location(function_globals, "CodeUri")
    for resource in (sam.get("Resources") or {}).values():
        key = _LOCAL_PATH_PROPERTY.get(resource.get("Type"))
        if key is None:
            continue
        props = resource["Properties"] = resource.get("Properties") or {}
        if key == "CodeUri" and not {"CodeUri", "InlineCode", "ImageUri"} & {*props, *function_globals}:
            props["CodeUri"] = "."  # as `sam build`
        _as_local_location(props, key)
    # The session only tells the region (no credentials are looked for); the policy map has no extra names.
    session = boto3.session.Session(region_name=parameter_values["AWS::Region"])
    translator = Translator(None, Parser(), boto_session=session)
    try:
        cfn: dict[str, Any] = translator.translate(sam, dict(parameter_values), get_managed_policy_map=dict)
    except InvalidDocumentException as e:
        raise ValueError(f"{e.message} {' '.join(cause.message for cause in e.causes)}") from e
    finally:
        translator.metrics.publish()  # to its default publisher, which drops them (else it warns)
    return cfn


def _as_local_location(props: dict[str, Any], key: str) -> None:
    if isinstance(props.get(key), str):
        props[key] = {"Bucket": LOCAL_BUCKET, "Key": props[key]}
