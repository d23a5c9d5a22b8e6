"""Foresight: what the recorded history says about time limits (docs/FORESIGHT.md).

`replay` — what-if replay of a procedure's time limit over the dossiers of a period;
`eventlog` — the dossier events of a period as IEEE XES and OCEL 2.0 JSON (pseudonymised);
`fromevents` — the periodic report recomputed from the event log alone.

The working calendar and the deadline rule are app/sla's (one home); nothing here re-states them.
"""
