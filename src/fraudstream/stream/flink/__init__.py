"""The processor as an Apache Flink job (PyFlink), an optional extra: see docs/flink.md.

Only :mod:`fraudstream.stream.flink.job` imports PyFlink; it runs under the Python that
``scripts/flink-deps.sh`` installs (:mod:`~fraudstream.stream.flink.deps`). Everything else
here imports without it: :mod:`~fraudstream.stream.flink.settings` (job settings, Kafka client
properties), :mod:`~fraudstream.stream.flink.stages` (the per-record logic),
:mod:`~fraudstream.stream.flink.launcher` (run the job on a local mini-cluster).
"""

__all__: list[str] = []  # the submodules above are the API; PyFlink must stay out of imports
