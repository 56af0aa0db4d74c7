"""Benchmarks of Boxoffice and the harness they share: load generation, real processes, references.

Every figure is measured next to a reference taken in the same run on the same machine, because
only the ratio between the two means anything on a small, noisy host.
"""
