-- Creates one application database and the role that owns it, after psql variables set: db, owner, password.
-- The PostgreSQL component renders it once per database into one script and runs that script on every
-- deployment that changes it, with the postgresql-schema Job (psql -v ON_ERROR_STOP=1); the chart's initdb
-- runs the same script once more on the very first start.
-- Every statement is idempotent, so each run converges on the same state: a database or role added later is
-- created, a changed password is set, existing databases and their data are left alone.
-- Any error stops the run (and fails the Job), also when the script is run by hand.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'owner', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
-- A database that existed before its role (restored from a dump, say) is handed to its owner.
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'owner') \gexec
-- PUBLIC may connect to a new database by default; only its owner may connect to ours.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db', :'owner') \gexec
-- Nobody but the admin connects to the maintenance databases (pg_hba.conf admits no application role there
-- either). Revoking what is not granted is no error, so this stays idempotent.
REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;
