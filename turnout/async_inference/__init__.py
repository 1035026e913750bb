"""Asynchronous inference (SageMaker's InvokeEndpointAsync): the queue's worker and the
objects it reads and writes (ADR 0031)."""
