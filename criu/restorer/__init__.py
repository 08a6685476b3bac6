"""The restorer blob (C) and its argument block (Python side)."""
