"""The admin command grammar shared by Slack's `/hotloop` and Teams messages: the table (table), what
every handler shares (base), and the handlers by concern — access (sources, admins), destinations
(teams, routes, channels), policy (SLAs, rules, escalation), reports (mine, stats, status, export)."""
