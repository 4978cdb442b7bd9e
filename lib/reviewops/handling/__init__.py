"""Handling (playbook 三、处理 and 四、跟进): opening cases from graded reviews, the case state machine,
the compensation ledger, remedies, 3S replies and the compliance guard, follow-ups, the daily sweep (SLA
escalation, delay coupons) and the workbench API the forms use.
"""
