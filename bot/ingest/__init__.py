"""Taking responses in: one response (accept), a group-commit batch (batch, queue), and hotloop's own
generic webhook body (generic_body)."""
