"""The Open Inference Protocol's gRPC service: the .proto and the modules protoc makes of it."""
