"""`criu dump`: seize -> collect -> per-resource dump -> images -> release.

See pipeline.dump() for the steps; resources are in criu/resources/.
"""
