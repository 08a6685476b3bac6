"""criu: checkpoint/restore of Linux process trees, compatible with CRIU."""
