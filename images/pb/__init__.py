"""Generated protobuf modules (built by make from images/proto)."""
