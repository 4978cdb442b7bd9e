"""Grading (playbook 二、分级): text primitives and the editable lexicon, ``classify`` (negative + complaint
categories), the trained text model, and pure ``triage`` (severity, owner, SLA deadline). Reads no cases and
opens none: opening a case is handling's job (:mod:`reviewops.handling.opening`).
"""
