"""Data capture (SageMaker's DataCaptureConfig): sampled invocations written as JSON Lines.

`destination` parses and checks a config, `record` builds SageMaker's record, `files`
names and appends the hourly files, `writer` is the thread that does the I/O off the data
path, and `hub` is what the router and the control plane hold.
"""
