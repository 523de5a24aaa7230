"""What the suite's tests share, one module a job (the fixtures are loaded by ``tests/conftest.py``):

- ``servers``: the PostgreSQL and MariaDB servers (reachable or not, queried directly, no Django in the outer
  process) and the ``backend`` each test runs on (the ``backend`` and ``servers`` fixtures);
- ``inner``: inner pytest runs of the sample project in a subprocess (the ``inner`` fixture) and what to assert
  on their output;
- ``real``: the sample project's real server databases with sentinel rows (the ``real`` fixture);
- ``projects``: the files of ``tests/projects/`` (apps and helpers of inner runs) copied into a run's directory;
- ``containers``: the local images and Docker settings of the container tests.
"""
