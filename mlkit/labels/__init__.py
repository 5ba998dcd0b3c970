"""Label tables from structures: ML-potential MD labels (``mlkit.labels.md``)."""

from __future__ import annotations
