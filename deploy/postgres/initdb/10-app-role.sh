#!/bin/sh
# The application's login role (web, worker, beat), created by the postgres image the first time it
# initialises its data volume (an existing volume: create it once by hand, as below). It gets its
# privileges from `manage.py db_app_role`, which the migrate service runs as the owner after migrating:
# read and write on the portal's tables, only SELECT and INSERT on the audit trail.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_role="${POSTGRES_APP_USER:-portal_app}" -v app_password="${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}" <<'SQL'
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password';
SQL
