"""Olmix's fit toolkit as units: regressors (a law per task, fitted on a swarm) and proposers (a mixture from
a fitted regressor), each looked up by name, as olmix's ``REGRESSION_TYPES`` and ``PROPOSER_TYPES`` are.

- their names, pairings and typed settings are declared in :mod:`pipeline_lib.config.units`;
- :mod:`.regressors`: ``REGRESSORS`` (linear, log_linear, lightgbm, gp, bimix, autoscale, search);
- :mod:`.proposers`: ``PROPOSERS`` (exact, simulation, search, topk).

Torch-free; lightgbm and scikit-learn are imported only by the regressors that use them.
"""
