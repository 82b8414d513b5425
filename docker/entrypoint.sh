#!/bin/sh
# Migrate the database, then serve. Extra arguments go to `hub serve` (e.g. --demo).
set -e
hub db upgrade
exec hub serve --no-migrate "$@"
