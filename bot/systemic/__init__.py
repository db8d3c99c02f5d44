"""Systemic spikes: many alerts sharing one value (a location, a topic…) within a window.

Pure pieces only (no I/O): `topics` and `signals` turn an alert into (dimension, value) pairs,
`detect` decides whether a window count is a spike against its baseline, `text` words the parent card.
"""
