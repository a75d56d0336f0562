-- The legacy backend's database, as LEGACY.md describes it (the tables the import reads).
-- Used by the tests and the benchmark to build a legacy database on a real PostgreSQL.

CREATE TYPE job_type AS ENUM ('command', 'script', 'file_transfer', 'composite');
CREATE TYPE job_status AS ENUM
    ('draft', 'scheduled', 'running', 'completed', 'failed', 'cancelled', 'deleted');
CREATE TYPE action_type AS ENUM ('command', 'script', 'file_transfer');
CREATE TYPE execution_status AS ENUM ('scheduled', 'running', 'completed', 'failed', 'cancelled');
CREATE TYPE schedule_execution_status AS ENUM
    ('scheduled', 'running', 'completed', 'failed', 'skipped');

CREATE TABLE users (
    id serial PRIMARY KEY,
    username varchar(50) NOT NULL UNIQUE,
    email varchar(100) UNIQUE,
    password_hash varchar(255) NOT NULL,
    role varchar(20) NOT NULL DEFAULT 'user',
    is_active boolean NOT NULL DEFAULT true,
    last_login timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE universal_targets (
    id serial PRIMARY KEY,
    target_uuid uuid NOT NULL UNIQUE,
    target_serial varchar(20) UNIQUE,
    name varchar(100) NOT NULL,
    target_type varchar(20) NOT NULL DEFAULT 'system',
    description text,
    os_type varchar(20),
    environment varchar(20),
    location varchar(100),
    data_center varchar(100),
    region varchar(100),
    is_active boolean NOT NULL DEFAULT true,
    status varchar(20) NOT NULL DEFAULT 'active',
    health_status varchar(20) NOT NULL DEFAULT 'unknown',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE target_communication_methods (
    id serial PRIMARY KEY,
    target_id integer NOT NULL REFERENCES universal_targets(id) ON DELETE CASCADE,
    method_type varchar(50) NOT NULL,
    method_name varchar(100),
    is_primary boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    priority integer NOT NULL DEFAULT 1,
    config jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON target_communication_methods (target_id);

CREATE TABLE target_credentials (
    id serial PRIMARY KEY,
    communication_method_id integer NOT NULL
        REFERENCES target_communication_methods(id) ON DELETE CASCADE,
    credential_type varchar(50) NOT NULL,
    credential_name varchar(100),
    is_primary boolean NOT NULL DEFAULT true,
    is_active boolean NOT NULL DEFAULT true,
    encrypted_credentials text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON target_credentials (communication_method_id);

CREATE TABLE jobs (
    id serial PRIMARY KEY,
    job_uuid uuid NOT NULL UNIQUE,
    job_serial varchar(20) UNIQUE,
    name varchar(255) NOT NULL,
    description text,
    job_type job_type NOT NULL DEFAULT 'command',
    status job_status NOT NULL DEFAULT 'draft',
    created_by integer REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    scheduled_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    priority integer NOT NULL DEFAULT 5,
    timeout integer,
    retry_count integer NOT NULL DEFAULT 0,
    is_deleted boolean NOT NULL DEFAULT false,
    deleted_at timestamptz
);

CREATE TABLE job_actions (
    id serial PRIMARY KEY,
    job_id integer NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    action_order integer NOT NULL,
    action_type action_type NOT NULL,
    action_name varchar(255),
    action_parameters json,
    action_config json,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON job_actions (job_id);

CREATE TABLE job_targets (
    id serial PRIMARY KEY,
    job_id integer NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    target_id integer NOT NULL REFERENCES universal_targets(id) ON DELETE CASCADE,
    UNIQUE (job_id, target_id)
);

CREATE TABLE job_executions (
    id serial PRIMARY KEY,
    job_id integer NOT NULL REFERENCES jobs(id),
    execution_uuid uuid NOT NULL UNIQUE,
    execution_serial varchar(20),
    execution_number integer NOT NULL,
    status execution_status NOT NULL DEFAULT 'scheduled',
    scheduled_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    total_targets integer NOT NULL DEFAULT 0,
    successful_targets integer NOT NULL DEFAULT 0,
    failed_targets integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON job_executions (job_id);

CREATE TABLE job_execution_results (
    id serial PRIMARY KEY,
    execution_id integer NOT NULL REFERENCES job_executions(id) ON DELETE CASCADE,
    target_id integer REFERENCES universal_targets(id),
    target_name varchar(255),
    action_id integer REFERENCES job_actions(id),
    action_order integer,
    action_name varchar(255),
    action_type action_type,
    status execution_status NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    execution_time_ms integer,
    output_text text,
    error_text text,
    exit_code integer,
    command_executed text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON job_execution_results (execution_id);

CREATE TABLE job_schedules (
    id serial PRIMARY KEY,
    schedule_uuid uuid NOT NULL UNIQUE,
    job_id integer NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    schedule_type varchar(20) NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    execute_at timestamptz,
    recurring_type varchar(20),
    interval integer DEFAULT 1,
    time varchar(8),
    days_of_week varchar(20),
    day_of_month integer,
    cron_expression varchar(100),
    timezone varchar(50) NOT NULL DEFAULT 'UTC',
    max_executions integer,
    execution_count integer NOT NULL DEFAULT 0,
    end_date timestamptz,
    description text,
    next_run timestamptz,
    last_run timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedule_executions (
    id serial PRIMARY KEY,
    execution_uuid uuid NOT NULL UNIQUE,
    job_schedule_id integer NOT NULL REFERENCES job_schedules(id) ON DELETE CASCADE,
    job_execution_id integer REFERENCES job_executions(id),
    scheduled_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    status schedule_execution_status NOT NULL DEFAULT 'scheduled',
    result_summary text,
    error_message text,
    execution_context jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
