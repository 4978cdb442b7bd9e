"""Reporting (playbook 六、复盘): the weekly report figures, the dashboard, the staff scorecard, customer
value, the analysis workbook and charts, and the measures they share.
"""
