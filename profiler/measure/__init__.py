"""Measurement: one trial in a fresh child (`trial`, `child`), sampled from outside
(`sampling`, `netstat`) and inside (`looplag`, `yappi_window`), run by a `session` that
keeps results.json current. Imports nothing from analysis, reports or the gate."""
