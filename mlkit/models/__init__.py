"""Models: labels + features -> validated screening models.

* :mod:`mlkit.models.dataset` -- labels CSV loading/validation, ``build_training_table``
* :mod:`mlkit.models.preprocessing` -- one-hot, constant and redundancy filters, pipelines
* :mod:`mlkit.models.zoo` -- logreg / rf / xgboost / lightgbm with Optuna search spaces
* :mod:`mlkit.models.nested_cv` -- nested CV (72/18/10) with Optuna tuning
* :mod:`mlkit.models.metrics` -- metrics with the same names for every model
* :mod:`mlkit.models.train` -- :class:`~mlkit.models.train.Trainer` and ``train()``
* :mod:`mlkit.models.subsets` -- exhaustive feature-subset search

Submodules are imported on use (heavy dependencies stay out of ``import mlkit``).
"""
