"""A sandbox made down (`--provider-down jekimo`, or `"providers_down"` over /_devstack/faults) refuses every
API call idgate makes with a 503, whatever the share of faults, until it is up again; the others answer."""

from __future__ import annotations

import pytest

from devstack.__main__ import parse_args
from devstack.faults import StackFaults
from devstack.sandboxes import SANDBOXES


def faults() -> StackFaults:
    stack_faults = StackFaults(sandbox.name for sandbox in SANDBOXES)
    stack_faults.update(seed=1)
    return stack_faults


def test_a_down_sandbox_refuses_every_call_and_the_others_answer() -> None:
    stack_faults = faults()
    stack_faults.update(providers_down=["jekimo"])
    drawn = [stack_faults.provider.draw("jekimo", "/token") for _ in range(20)]
    assert {(fault.kind, fault.status) for fault in drawn if fault is not None} == {("error", 503)}
    assert None not in drawn
    assert [stack_faults.provider.draw("datakeen", "/session") for _ in range(20)] == [None] * 20
    assert stack_faults.state()["counts"]["providers"]["jekimo"]["down"] == 20


def test_it_is_up_again_once_the_list_leaves_it_out() -> None:
    stack_faults = faults()
    stack_faults.update(providers_down=["jekimo", "okid"])
    stack_faults.update(providers_down=["okid"])
    assert stack_faults.provider.draw("jekimo", "/token") is None
    assert stack_faults.provider.draw("okid", "/verifications") is not None
    stack_faults.update(providers_down=None)
    assert stack_faults.settings.providers_down == ()
    assert stack_faults.provider.draw("okid", "/verifications") is None


def test_an_unknown_sandbox_is_refused_and_changes_nothing() -> None:
    stack_faults = faults()
    with pytest.raises(ValueError, match="providers are some of"):
        stack_faults.update(providers_down=["nobody"])
    assert stack_faults.settings.providers_down == ()


def test_the_flag_takes_a_comma_separated_list() -> None:
    options = parse_args(["--provider-down", "jekimo,okid", "--provider-cooldown", "5"])
    assert options.faults.providers_down == ("jekimo", "okid")
    assert options.provider_cooldown == 5
    assert parse_args([]).faults.providers_down == ()
    assert parse_args([]).provider_cooldown == 60
