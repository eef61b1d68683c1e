-- remote-schema.sql: the tables bm-push(1) writes on PostgreSQL 15 or
-- Supabase, the views dashboards read, the snapshot function and row level
-- security.  Idempotent: run it again after every bm upgrade.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/remote-schema.sql
--
-- No foreign keys between the tables: rows arrive in batches from many
-- machines and in any order (DESIGN.md §9).  Natural keys make every
-- upsert idempotent, so a retried push never duplicates a row.

SET client_min_messages = warning;
BEGIN;

-- Supabase has these roles; plain PostgreSQL gets them so that the same
-- grants and policies apply (NOLOGIN: nobody connects as them directly).
DO $$
DECLARE r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END $$;

CREATE TABLE IF NOT EXISTS bm_benchmarks (
	id text PRIMARY KEY,		-- MD5 of the canonical prompt
	name text NOT NULL,
	prompt text NOT NULL,
	content text NOT NULL,		-- the YAML document
	content_sha256 text NOT NULL,
	path text,
	doc integer,
	tags jsonb,
	description text,
	created_at timestamptz,
	updated_at timestamptz,
	retired_at timestamptz
);

CREATE TABLE IF NOT EXISTS bm_benchmark_versions (
	benchmark_id text NOT NULL,
	content_sha256 text NOT NULL,
	content text NOT NULL,
	first_seen_at timestamptz,
	PRIMARY KEY (benchmark_id, content_sha256)
);

CREATE TABLE IF NOT EXISTS bm_runs (
	id text PRIMARY KEY,
	started_at timestamptz,
	finished_at timestamptz,
	status text,
	argv text,			-- the command line, as JSON
	config_sha256 text,
	git_sha text,
	environment text,
	host text,
	label text,
	rescored_from text,
	stream_sha256 text
);
CREATE INDEX IF NOT EXISTS bm_runs_started_at ON bm_runs (started_at);

CREATE TABLE IF NOT EXISTS bm_results (
	run_id text NOT NULL,
	case_id text NOT NULL,
	step integer NOT NULL DEFAULT 0,
	benchmark_id text,
	model text NOT NULL,
	variant text,
	trial integer NOT NULL DEFAULT 0,
	repeat integer NOT NULL DEFAULT 0,
	status text NOT NULL,
	content_sha256 text,
	error_class text,
	latency_ms double precision,
	ttft_ms double precision,
	prompt_tokens bigint,
	completion_tokens bigint,
	cost_usd double precision,
	score double precision,
	output text,
	record jsonb NOT NULL,		-- the whole result line
	created_at timestamptz,
	PRIMARY KEY (run_id, case_id, step)
);
CREATE INDEX IF NOT EXISTS bm_results_model_run
	ON bm_results (model, run_id);
CREATE INDEX IF NOT EXISTS bm_results_benchmark
	ON bm_results (benchmark_id, content_sha256);
CREATE INDEX IF NOT EXISTS bm_results_run_status
	ON bm_results (run_id, status);

CREATE TABLE IF NOT EXISTS bm_stats (
	run_id text NOT NULL,
	group_key jsonb NOT NULL,	-- {"model": "..."}
	record jsonb NOT NULL,		-- the stat record
	PRIMARY KEY (run_id, group_key)
);

CREATE TABLE IF NOT EXISTS bm_snapshots (
	id bigserial PRIMARY KEY,
	snapshot_version integer NOT NULL CHECK (snapshot_version >= 1),
	is_current boolean NOT NULL DEFAULT false,
	model text NOT NULL,
	environment text,
	commit_sha text,
	run_id text NOT NULL,
	metrics jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE NULLS NOT DISTINCT (model, environment, snapshot_version),
	-- one snapshot per run, model and environment: a retry is a no-op
	UNIQUE NULLS NOT DISTINCT (run_id, model, environment)
);
-- At most one current snapshot per (model, environment).
CREATE UNIQUE INDEX IF NOT EXISTS bm_snapshots_current
	ON bm_snapshots (model, coalesce(environment, ''))
	WHERE is_current;

-- Write a snapshot of one model's metrics for a run with the next
-- snapshot_version of its (model, environment) and make it the current
-- one, in one transaction.  Called again for the same run, model and
-- environment it returns the version already written.  PostgREST:
-- POST /rest/v1/rpc/bm_snapshot {"p": {...}}.
CREATE OR REPLACE FUNCTION bm_snapshot(p jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
	m text := p->>'model';
	env text := p->>'environment';
	v integer;
BEGIN
	IF m IS NULL OR p->>'run_id' IS NULL OR p->'metrics' IS NULL THEN
		RAISE EXCEPTION 'bm_snapshot: model, run_id and metrics needed'
			USING ERRCODE = '22023';
	END IF;
	-- Serialise writers of one (model, environment).
	PERFORM pg_advisory_xact_lock(hashtext(m), hashtext(coalesce(env, '')));
	SELECT snapshot_version INTO v FROM bm_snapshots
		WHERE run_id = p->>'run_id' AND model = m
		AND environment IS NOT DISTINCT FROM env;
	IF FOUND THEN
		RETURN v;
	END IF;
	SELECT coalesce(max(snapshot_version), 0) + 1 INTO v FROM bm_snapshots
		WHERE model = m AND environment IS NOT DISTINCT FROM env;
	UPDATE bm_snapshots SET is_current = false
		WHERE model = m AND environment IS NOT DISTINCT FROM env
		AND is_current;
	INSERT INTO bm_snapshots (snapshot_version, is_current, model,
		environment, commit_sha, run_id, metrics)
		VALUES (v, true, m, env, p->>'commit_sha', p->>'run_id',
		p->'metrics');
	RETURN v;
END $$;

-- The schema version bm-push checks (GET /rest/v1/rpc/bm_schema_version).
CREATE OR REPLACE FUNCTION bm_schema_version() RETURNS integer
LANGUAGE sql IMMUTABLE AS 'SELECT 1';

-- Dashboards: the current snapshot per model and environment.
CREATE OR REPLACE VIEW bm_current_snapshots WITH (security_invoker = true)
AS SELECT model, environment, snapshot_version, commit_sha, run_id,
	metrics, created_at
	FROM bm_snapshots WHERE is_current;

-- Trends: pass rate (pass / (pass + fail)) and latency p95 (answered
-- results) per model per run.
CREATE OR REPLACE VIEW bm_run_model_stats WITH (security_invoker = true)
AS SELECT r.run_id, r.model, min(u.started_at) AS started_at,
	count(*) AS results,
	count(*) FILTER (WHERE r.status = 'pass') AS pass,
	count(*) FILTER (WHERE r.status = 'fail') AS fail,
	count(*) FILTER (WHERE r.status = 'error') AS error,
	count(*) FILTER (WHERE r.status = 'pass')::double precision /
		nullif(count(*) FILTER (WHERE r.status IN ('pass', 'fail')), 0)
		AS pass_rate,
	percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms)
		FILTER (WHERE r.status IN ('pass', 'fail')) AS latency_p95_ms,
	sum(r.cost_usd) AS cost_usd
	FROM bm_results r LEFT JOIN bm_runs u ON u.id = r.run_id
	GROUP BY r.run_id, r.model;

-- Regressions: a model whose current snapshot's pass rate is below the
-- one before it.
CREATE OR REPLACE VIEW bm_regressions WITH (security_invoker = true)
AS SELECT c.model, c.environment, c.snapshot_version, c.run_id,
	(p.metrics->>'pass_rate')::double precision AS previous_pass_rate,
	(c.metrics->>'pass_rate')::double precision AS pass_rate,
	p.run_id AS previous_run_id
	FROM bm_snapshots c JOIN bm_snapshots p ON p.model = c.model
	AND p.environment IS NOT DISTINCT FROM c.environment
	AND p.snapshot_version = c.snapshot_version - 1
	WHERE c.is_current
	AND (c.metrics->>'pass_rate')::double precision <
		(p.metrics->>'pass_rate')::double precision;

-- Row level security: anyone with the public (anon) key reads; only the
-- table owner and service_role (which bypasses RLS on Supabase) write.
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['bm_benchmarks', 'bm_benchmark_versions',
	    'bm_runs', 'bm_results', 'bm_stats', 'bm_snapshots'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('DROP POLICY IF EXISTS bm_read ON %I', t);
		EXECUTE format('CREATE POLICY bm_read ON %I FOR SELECT '
		    'TO anon, authenticated USING (true)', t);
		EXECUTE format('DROP POLICY IF EXISTS bm_write ON %I', t);
		EXECUTE format('CREATE POLICY bm_write ON %I FOR ALL '
		    'TO service_role USING (true) WITH CHECK (true)', t);
		EXECUTE format('REVOKE ALL ON %I FROM anon, authenticated', t);
		EXECUTE format('GRANT SELECT ON %I TO anon, authenticated', t);
		EXECUTE format('GRANT ALL ON %I TO service_role', t);
	END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SEQUENCE bm_snapshots_id_seq TO service_role;
REVOKE ALL ON bm_current_snapshots, bm_run_model_stats, bm_regressions
	FROM anon, authenticated;
GRANT SELECT ON bm_current_snapshots, bm_run_model_stats, bm_regressions
	TO anon, authenticated, service_role;
REVOKE ALL ON FUNCTION bm_snapshot(jsonb) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION bm_snapshot(jsonb) TO service_role;
GRANT EXECUTE ON FUNCTION bm_schema_version()
	TO anon, authenticated, service_role;

COMMIT;
