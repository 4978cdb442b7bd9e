"""The core every stage stands on: the store and its migrations, the policy (and the shop's working
clock, money parsing and the platform vocabulary it validates against), users and access, privacy,
the PII vault, secrets redaction, output helpers, errors and backups. Imports nothing from the stages.
"""

__version__ = "0.1.0"
