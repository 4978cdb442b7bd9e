"""The ReviewOps playbooks (papermill notebooks and their Jupytext ``.py`` pairs), installed as ``reviewops_playbooks``.

This folder is ``playbooks/`` in the repository; ``pip install .`` ships it inside the wheel so that
``reviewops run weekly_top3`` finds it from any working directory. Look it up with
``reviewops.runner.playbooks_dir()`` (which ``$REVIEWOPS_PLAYBOOKS`` overrides), never by a path relative
to the source tree. The ``.py`` files are the notebooks' Jupytext pairs, not modules to import.
"""
