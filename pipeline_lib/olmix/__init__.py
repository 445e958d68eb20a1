"""Olmix (Chen et al., 2026): priors, the proxy swarm, per-task laws and the constrained proposal.

The workflow runs it as the method ``olmix`` (rules/olmix.smk); ``python -m pipeline_lib.olmix fit`` fits
and proposes from any swarm in olmix's CSV layout, with no training.
"""
