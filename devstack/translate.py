"""template.yaml as plain CloudFormation, through the SAM transform, for tools that read no SAM.

`python -m devstack.translate OUT.json` writes it with the parameters' defaults. `make validate` runs checkov
on it: the IAM roles, the API's stage and the permissions SAM generates exist only there. A resource's
`Metadata` goes through the transform for functions, APIs and state machines, so checkov skips written in
template.yaml apply to what they become.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devstack.template import DEFAULT_TEMPLATE, load_template


def translated(path: Path | str = DEFAULT_TEMPLATE) -> Mapping[str, Any]:
    """The template through the SAM transform, with its parameters' defaults and the local stack's pseudo
    parameters (account, region, stack name)."""
    return load_template(path).resolver().cfn


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m devstack.translate OUT.json", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
