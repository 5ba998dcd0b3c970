"""Models: estimators and the search on feature tables -- nothing above them.

* :mod:`mlkit.models.dataset` -- :class:`~mlkit.models.dataset.LabelPolicy`, labels CSV
  loading/validation, ``build_training_table``
* :mod:`mlkit.models.preprocessing` -- one-hot, constant and redundancy filters, pipelines
* :mod:`mlkit.models.zoo` -- logreg / rf / xgboost / lightgbm with Optuna search spaces
* :mod:`mlkit.models.nested_cv` -- nested CV (72/18/10) with Optuna tuning
* :mod:`mlkit.models.metrics` -- metrics with the same names for every model
* :mod:`mlkit.models.trainer` -- :class:`~mlkit.models.trainer.Trainer`, a scikit-learn
  estimator: nested-CV model selection and final refit
* :mod:`mlkit.models.fitted` -- :class:`~mlkit.models.fitted.FittedModel`, a fitted
  pipeline with its input contract (what predicting needs)
* :mod:`mlkit.models.subsets` -- exhaustive feature-subset search

This layer imports no featurization, no mlflow and no figures: the jobs that compose
them (``train``, ``predict``) are :mod:`mlkit.workflows`. Submodules are imported on use
(heavy dependencies stay out of ``import mlkit``).
"""
