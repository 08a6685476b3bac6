"""Memory of tasks: mappings and their classification."""
