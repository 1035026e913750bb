"""Codecs: request bodies to a model's inputs and its outputs back to bytes, per protocol.

`sagemaker` speaks InvokeEndpoint's bodies (JSON, CSV, .npy); `v2` speaks the Open Inference
Protocol's tensors. They know nothing of any model: a flavor picks the codec it needs.
"""
