"""Intake (playbook 二、监测): reading platform exports (readers, layouts), cleaning values (clean), and the
idempotent import into the store (ingest); survey imports. Imports only the core.
"""
