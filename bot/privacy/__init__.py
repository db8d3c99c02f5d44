"""A customer's personal data: erasure and export on request (erase.py, export.py) and redaction once
the retention period has passed (retention.py); redact.py says what redacted values look like."""
