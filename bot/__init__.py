"""The platform-neutral core, in floors (checked by import-linter, pyproject.toml):

- foundations: domain, settings, telemetry, crypto, durations, identity, business_hours, action_ids;
- features: rules/, ingest/, sla/, cards/, commands/, config/, chat/ (the port), context, health;
- workflows on top: alerts/ (lifecycle and the one writer), actions/ (the table), outbox,
  sla_sweep, digests, metrics.

Never imports a chat SDK, a web framework or an adapter."""
