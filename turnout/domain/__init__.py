"""The plain data types of turnout and small pure functions on them.

Models, endpoint configs, variants and endpoints (`resources`, `names`), deployments and
their traffic-shifting policies, alarms, rollups and their statistics, latency histograms,
an endpoint's routing settings and targeting rules. Every other package may import these;
the domain imports nothing of turnout but `turnout.errors` and itself, so the store keeps
them without depending on the features that use them, and no import cycle runs between
packages (DESIGN.md, "Domain types apart"; tests/test_imports.py guards it).
"""
