"""Alerting (playbook 二、预警): the alert ledger, the robot/e-mail/SMS channels, mail delivery of
reports and the watcher that takes new exports and pushes within a minute.
"""
