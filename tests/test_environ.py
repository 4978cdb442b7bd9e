"""reviewops.core.environ.patched_environ: what serve, lab and run hand their kernels, put back afterwards."""

from __future__ import annotations

import os

import pytest
from reviewops.core.environ import patched_environ


def test_variables_are_set_removed_and_restored_even_when_the_block_raises(monkeypatch):
    monkeypatch.setenv("RO_T_KEEP", "before")
    monkeypatch.setenv("RO_T_GONE", "here")
    monkeypatch.delenv("RO_T_NEW", raising=False)
    with pytest.raises(RuntimeError), patched_environ({"RO_T_KEEP": "during", "RO_T_GONE": None, "RO_T_NEW": "x"}):
        assert os.environ["RO_T_KEEP"] == "during" and "RO_T_GONE" not in os.environ
        assert os.environ["RO_T_NEW"] == "x"
        raise RuntimeError("kernel died")
    assert os.environ["RO_T_KEEP"] == "before" and os.environ["RO_T_GONE"] == "here"
    assert "RO_T_NEW" not in os.environ
