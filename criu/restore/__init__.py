"""The restore pipeline: task creation, resource hooks, restorer blob."""
