"""Configuration: the YAML document (document), import/export (io), the cached snapshot every decision
reads (snapshot), and survey sources with their sealed secrets (sources)."""
