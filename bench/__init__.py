"""Benchmarks. ``make bench`` runs every suite; ``python -m bench engine`` runs one.

Figures are reported with a baseline measured in the same run (this machine is shared and
noisy): a ratio to the baseline means more than an absolute number.
"""
