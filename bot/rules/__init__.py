"""Which responses become alerts and where they go: the decision (evaluate), custom rule conditions
(conditions, condition_format) and team routing (routing)."""
