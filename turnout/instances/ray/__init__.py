"""The Ray backend: each instance is a Ray actor that runs the instance's process on its node.

Ray places the actors (SPREAD over the nodes, reserving the variant's instance type as
logical CPUs and memory) and restarts them when they die or their node goes; turnout's
router still sends requests straight to each instance's HTTP address (ADR 0020).

Modules: `resources` (instance types to Ray resources; no Ray needed), `actor` (what runs on
a node), `instance` and `backend` (what runs in `turnout serve`), `cluster` (connecting).
"""
