"""`make mutation`: mutation testing of idgate's core with mutmut, then a score per module.

mutmut names each mutant after its file's path and imports the mutated code from ./, src/ or source/,
while idgate lives in layers/idgate/idgate. So the run happens in .mutation/ (out of git): src/idgate is
a copy of the package, and everything the tests read (tests/, devstack/, template.yaml, ...) is linked.
What is mutated, and which tests run, is [tool.mutmut] in pyproject.toml (its paths are relative to
.mutation/). mutmut runs, for each mutant, only the tests that reached the mutated function.

    scripts/mutation.py                          from scratch, module by module in the configured
                                                 order, until --budget-minutes (60) have passed
    scripts/mutation.py idgate.second_factor ... only these modules, again; other results are kept
    scripts/mutation.py --report                 the scores of the last runs, running nothing

A module whose turn comes after the budget is spent is not run, and is reported as not measured.

A module's score is killed / (mutants - skipped), as mutmut's badge counts it; a time-out is a kill
(the mutant made a test hang), a mutant no test reaches is not. The report also gives the score without
the mutants that change nothing but the prose of an exception's message (its `message` argument made
"XX...XX", upper or lower case), for comparison: the score itself counts them, since the tests check what a
message must say (tests/support/messages.py). Such mutants are found by comparing each mutated function with
the original, every exception's message text blanked out.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".mutation"
PACKAGE = REPO / "layers" / "idgate" / "idgate"
#: What the tests read besides tests/ (mutmut copies these into its mutants/ folder: `also_copy`).
LINKED = (
    "pyproject.toml",
    "tests",
    "devstack",
    "events",
    "examples",
    "functions",
    "template.yaml",
    "openapi.yaml",
    "statemachine",
)
#: mutmut's exit codes (mutmut.stats.status_by_exit_code), folded into what a score needs.
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def stage() -> None:
    """Lays out .mutation/ as mutmut expects. Copies keep their times: mutmut mutates a file again only
    when its source is newer than the mutated copy."""
    target = WORK / "src" / "idgate"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in LINKED:
        link = WORK / name
        if not link.is_symlink():
            link.symlink_to(REPO / name)


def modules_configured() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    return [module_of(path) for path in config["only_mutate"]]


def module_of(path: str) -> str:
    """src/idgate/providers/okid.py → idgate.providers.okid"""
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def run(modules: list[str], max_children: int, budget_minutes: float) -> int:
    known = modules_configured()
    unknown = [module for module in modules if module not in known]
    if unknown:
        print(f"not configured for mutation ([tool.mutmut] only_mutate): {', '.join(unknown)}")
        return 2
    if not modules:
        shutil.rmtree(WORK / "mutants", ignore_errors=True)  # a full run starts from scratch
        modules = known
    started = time.monotonic()
    for module in modules:
        if time.monotonic() - started > budget_minutes * 60:
            print(f"time budget spent: {module} and the modules after it are not run")
            break
        print(f"--- {module}", flush=True)
        code = mutmut("run", f"--max-children={max_children}", f"{module}.*")
        if code != 0:
            return code
    return 0


def mutmut(*args: str) -> int:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    # The tests' AWS calls go to moto, never to AWS.
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.call(command, cwd=WORK, env=env)  # noqa: S603 - our own venv's mutmut


def report() -> list[str]:
    """The score of each configured module, from mutmut's results (mutants/**/*.py.meta)."""
    rows = [
        "| module | mutants | killed | survived | no test | score | message text | score without |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    not_measured = []
    for module in modules_configured():
        meta = WORK / "mutants" / "src" / (module.replace(".", "/") + ".py.meta")
        results = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        counts = Counter(fold(code) for code in results.values())
        if not results or counts["not checked"] == len(results):
            not_measured.append(module)
            continue
        prose = message_only(module, list(results))
        rest = Counter(fold(code) for name, code in results.items() if name not in prose)
        rows.append(
            f"| {module} | {len(results) - counts['skipped']} | {counts['killed']} | {counts['survived']}"
            f" | {counts['no tests']} | {score(counts)} | {len(prose)} | {score(rest)} |"
        )
        if counts["not checked"]:
            rows[-1] += f" ({counts['not checked']} not checked)"
    if not_measured:
        rows.append(f"\nnot measured: {', '.join(not_measured)}")
    return rows


def score(counts: Counter[str]) -> str:
    tested = sum(counts.values()) - counts["skipped"] - counts["not checked"]
    return f"{100 * counts['killed'] / tested:.0f}%" if tested else "-"


def message_only(module: str, mutant_names: list[str]) -> set[str]:
    """The mutants whose function equals the original once every exception's message text is blanked."""
    if str(PACKAGE.parent) not in sys.path:
        sys.path.insert(0, str(PACKAGE.parent))
    namespace = vars(importlib.import_module(module))
    source = (WORK / "mutants" / "src" / (module.replace(".", "/") + ".py")).read_text()
    functions = {node.name: node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
    found = set()
    for name in mutant_names:
        function = name.rsplit(".", 1)[1]
        original = functions.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        mutated = functions.get(function)
        if original and mutated and blanked(mutated, namespace) == blanked(original, namespace):
            found.add(name)
    return found


def blanked(function: ast.FunctionDef, namespace: dict[str, object]) -> str:
    """The function's AST, its name and the text of each exception message it builds made one."""
    function = copy.deepcopy(function)
    function.name = "f"
    for node in ast.walk(function):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        index = message_index(namespace.get(node.func.id, getattr(builtins, node.func.id, None)))
        if index is not None and index < len(node.args) and is_text(node.args[index]):
            node.args[index] = ast.Constant("<message>")
        for keyword in node.keywords:
            if index is not None and keyword.arg == "message" and is_text(keyword.value):
                keyword.value = ast.Constant("<message>")
    return ast.dump(function)


def message_index(target: object) -> int | None:
    """Where an exception class takes its message (idgate's errors name it `message`)."""
    if not isinstance(target, type) or not issubclass(target, BaseException):
        return None
    try:
        parameters = list(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # a builtin exception: its first argument
        return 0
    return parameters.index("message") if "message" in parameters else 0


def is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def fold(code: int | None) -> str:
    if code is None:
        return "not checked"
    folds = {"killed": KILLED, "survived": SURVIVED, "no tests": NO_TESTS, "skipped": SKIPPED}
    for name, codes in folds.items():
        if code in codes:
            return name
    return "survived"  # suspicious, a segfault: not a kill that a test made


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="e.g. idgate.second_factor (default: all, in order)")
    parser.add_argument("--report", action="store_true", help="print the last scores, run nothing")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--budget-minutes", type=float, default=60.0)
    args = parser.parse_args()
    code = 0
    if not args.report:
        WORK.mkdir(exist_ok=True)
        stage()
        code = run(args.modules, args.max_children, args.budget_minutes)
    print("\n".join(report()))
    print("Survivors: `../.venv/bin/mutmut results`, then `mutmut show <name>`, both in .mutation/.")
    return code


if __name__ == "__main__":
    sys.exit(main())
