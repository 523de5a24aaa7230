"""The container path's setup on this machine: the locally built images (``.ci/docker.sh`` builds them from Debian
packages, no registry is reachable here) and how testcontainers reaches the local Docker engine."""

IMAGES = {"MULTIDB_PG_IMAGE": "multidb-test/postgres:15", "MULTIDB_MARIA_IMAGE": "multidb-test/mariadb:10.11"}
# This machine has /.dockerenv, so testcontainers thinks it runs in a container: reach published ports instead.
DOCKER_ENV = {"TESTCONTAINERS_CONNECTION_MODE": "docker_host", "TC_HOST": "127.0.0.1"}
