"""Integrations with other training frameworks' own loops: lrsearch's groups and schedules inside them.

- :mod:`lrsearch.integrations.keras`: Keras 3 ``model.fit`` on the JAX, TensorFlow or PyTorch backend.

Each integration imports its framework; this package imports none.
"""
