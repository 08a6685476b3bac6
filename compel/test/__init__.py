"""Test support for compel: the C victim program and a driver for it."""
