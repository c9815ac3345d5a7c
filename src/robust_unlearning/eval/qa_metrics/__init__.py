"""The QA metrics, one module each (two for a family that shares its computation, mia.py, truth_ratio.py).

A module registers its computation and its spec together with `register_metric` (base.py); eval/specs.py imports
every module here, so a new metric is a new module and nothing else. Metric modules import nothing torch-bound:
they handle the tensors they are given through the tensors' own methods.
"""
