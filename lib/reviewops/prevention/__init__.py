"""Prevention (playbook 一、前置预防): stop the bad review before it is written.

* :mod:`reviewops.prevention.risk` — P2 high-risk order flags: every order scored from its buyer's history
  strictly before the order (keyed hashes only), against the shop's own rates, with Chinese reasons and the
  policy's recommended actions (运费险, contact before dispatch, careful packing). Computed on the fly, never
  stored: no blacklist, flags expire.

Prevention sits beside handling: it may import grading, intake and core, never handling, alerting or reporting
(the import-linter layers in ``pyproject.toml``).
"""
