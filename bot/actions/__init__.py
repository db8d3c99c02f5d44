"""What a button or verb does: the one routing table with guards, plans and inputs (table), and the
neutral form each route asks for (forms). The ids live below, in bot/action_ids.py, because cards name
them too."""
