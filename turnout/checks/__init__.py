"""Prediction tests: does a model behind an endpoint still predict as expected?

`data` reads the rows of a CSV or JSON Lines file, `metrics`, `thresholds` and `compare`
are the pure logic, `report` assesses answers, `junit` writes the report for CI, `runner`
sends the rows over the runtime API and `gate` runs a deployment's test on its green fleet.
See docs/prediction-tests.md and ADR 0022.
"""
