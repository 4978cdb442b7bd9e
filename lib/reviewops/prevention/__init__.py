"""Prevention (playbook 一、前置预防): stop the bad review before it is written.

* :mod:`reviewops.prevention.risk` — P2 high-risk order flags: every order scored from its buyer's history
  strictly before the order (keyed hashes only), against the shop's own rates, with Chinese reasons and the
  policy's recommended actions (运费险, contact before dispatch, careful packing). Computed on the fly, never
  stored: no blacklist, flags expire.
* :mod:`reviewops.prevention.knowledge` / :mod:`reviewops.prevention.quiz` — P1 the knowledge base (the
  policy's 知识库) suggested on a case, and the per-agent quiz drawn from it (results in the scorecard).
* :mod:`reviewops.prevention.listing_audit` — P3 the listing transparency audit: per listing, the facts it
  lacks or that the shop's own shipments and complaints contradict.
* :mod:`reviewops.prevention.commitments` — P6 service commitments: adherence measured from the exports,
  breaches in progress.

Prevention sits beside handling: it may import grading, intake and core, never handling, alerting or reporting
(the import-linter layers in ``pyproject.toml``).
"""
