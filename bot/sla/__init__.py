"""SLA deadlines and the sweep's options: deadlines from policy (deadlines), and the sweep's settings
(policy). Business-hours arithmetic is bot/business_hours.py; the sweep itself, a workflow, is
bot/sla_sweep.py."""
