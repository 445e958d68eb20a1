"""Olmix's fit toolkit as units: regressors (a law per task, fitted on a swarm) and proposers (a mixture from
a fitted regressor), each looked up by name, as olmix's ``REGRESSION_TYPES`` and ``PROPOSER_TYPES`` are.

- :mod:`.settings`: each unit's typed settings, numpy-free (the config layer imports them);
- :mod:`.regressors`: ``REGRESSORS`` (linear, log_linear, lightgbm, gp, bimix, autoscale, search);
- :mod:`.proposers`: ``PROPOSERS`` (exact, simulation, search).

Torch-free; lightgbm and scikit-learn are imported only by the regressors that use them.
"""
