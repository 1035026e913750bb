"""Data-path protocol adapters: a protocol's requests in, the data path's answers out."""
