"""The alert lifecycle: the transitions and their guards (lifecycle) and the one compare-and-set writer
every change of alert state goes through (writer)."""
