-- KOS tables in MySQL / MariaDB, written by the jobs. `kos stack start` applies this file (every statement is idempotent).
-- Times are UTC instants (the server and every KOS session run with time_zone '+00:00').

-- One row per process start event. The unique key on the line's origin makes every write
-- idempotent: a replayed Spark batch or a re-shipped file adds nothing.
CREATE TABLE IF NOT EXISTS process_events (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_time      DATETIME(6)     NOT NULL,
    host            VARCHAR(255)    NOT NULL,
    process         VARCHAR(255)    NOT NULL,
    pid             BIGINT          NULL,
    service         VARCHAR(1024)   NOT NULL,
    action          ENUM('STARTED', 'ACTIVATED') NOT NULL,
    origin_source   VARCHAR(255)    NOT NULL,
    origin_file     VARCHAR(255)    NOT NULL,
    origin_offset   BIGINT          NOT NULL,
    kafka_topic     VARCHAR(255)    NOT NULL,
    kafka_partition INT             NOT NULL,
    kafka_offset    BIGINT          NOT NULL,
    -- The raw record's Kafka timestamp: the reference the year rule used for a classic timestamp.
    raw_timestamp   DATETIME(6)     NULL,
    -- When the load's statement (LOAD DATA) began, as MariaDB's clock had it: the row becomes visible at its
    -- batch's commit, a little later (bench/latency.py measures line to row with it).
    loaded_at       DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY origin (origin_source, origin_file, origin_offset),
    KEY by_time (event_time),
    KEY by_service (service(191)),
    KEY by_process (process)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The load job's ledger: one row per micro-batch (slice 'batch': the driver writes the batch whole), committed
-- in the same transaction as the batch's rows, so that a batch run again after a crash (Spark had not recorded
-- it) adds nothing twice. query is the streaming query's id, which a new checkpoint changes. (Rows whose slice
-- names a Kafka partition's range were written by executors, as the load did before; they stay valid.)
CREATE TABLE IF NOT EXISTS load_ledger (
    query        VARCHAR(64)  NOT NULL,
    batch_id     BIGINT       NOT NULL,
    slice        VARCHAR(300) NOT NULL,
    `rows`       BIGINT       NOT NULL,
    committed_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (query, batch_id, slice)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The ledger of the load before it wrote batches slice by slice; a batch it recorded that runs again finds
-- its lines by their origin key instead.
DROP TABLE IF EXISTS load_batches;

-- Tables made by an earlier KOS get the columns added since.
ALTER TABLE process_events ADD COLUMN IF NOT EXISTS raw_timestamp DATETIME(6) NULL AFTER kafka_offset;

-- Metrics, one set of rows per computed period [period_start, period_end).
CREATE TABLE IF NOT EXISTS metrics_top_services (
    period_start DATETIME(6)   NOT NULL,
    period_end   DATETIME(6)   NOT NULL,
    `rank`       INT           NOT NULL,
    service      VARCHAR(1024) NOT NULL,
    starts       BIGINT        NOT NULL,
    PRIMARY KEY (period_start, period_end, `rank`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS metrics_top_processes (
    period_start DATETIME(6)  NOT NULL,
    period_end   DATETIME(6)  NOT NULL,
    `rank`       INT          NOT NULL,
    process      VARCHAR(255) NOT NULL,
    starts       BIGINT       NOT NULL,
    PRIMARY KEY (period_start, period_end, `rank`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- host '' is the total over all hosts.
CREATE TABLE IF NOT EXISTS metrics_starts_per_bucket (
    period_start DATETIME(6)  NOT NULL,
    period_end   DATETIME(6)  NOT NULL,
    bucket       VARCHAR(8)   NOT NULL,
    bucket_start DATETIME(6)  NOT NULL,
    host         VARCHAR(255) NOT NULL,
    starts       BIGINT       NOT NULL,
    PRIMARY KEY (period_start, period_end, bucket, bucket_start, host)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per metrics run over a period: what it covered, so a report can be rebuilt from the tables.
CREATE TABLE IF NOT EXISTS metrics_runs (
    period_start DATETIME(6) NOT NULL,
    period_end   DATETIME(6) NOT NULL,
    bucket       VARCHAR(8)  NOT NULL,
    top_n        INT         NOT NULL,
    events       BIGINT      NOT NULL,
    first_event  DATETIME(6) NULL,
    last_event   DATETIME(6) NULL,
    made_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (period_start, period_end, bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The live query (jobs/live.py). series: the first 16 bytes of SHA-256 of host, service and process joined by NUL
-- (the text columns may hold them cut to fit), the key of one (host, service, process).
-- Starts per minute, counted as they arrive; a minute's count is replaced while the watermark has not passed it.
CREATE TABLE IF NOT EXISTS live_starts (
    series     BINARY(16)    NOT NULL,
    minute     DATETIME(6)   NOT NULL,
    host       VARCHAR(255)  NOT NULL,
    service    VARCHAR(1024) NOT NULL,
    process    VARCHAR(255)  NOT NULL,
    starts     BIGINT        NOT NULL,
    updated_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (series, minute),
    KEY by_minute (minute)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Starts that arrived after the watermark had passed their time: not in live_starts, each kept here once.
CREATE TABLE IF NOT EXISTS live_late (
    origin     VARCHAR(600)  NOT NULL,
    event_time DATETIME(6)   NOT NULL,
    host       VARCHAR(255)  NOT NULL,
    service    VARCHAR(1024) NOT NULL,
    process    VARCHAR(255)  NOT NULL,
    watermark  DATETIME(6)   NOT NULL,
    noticed_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (origin),
    KEY by_time (event_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Restart storms: one row per storm, updated while it grows.
CREATE TABLE IF NOT EXISTS process_alerts (
    series      BINARY(16)    NOT NULL,
    host        VARCHAR(255)  NOT NULL,
    service     VARCHAR(1024) NOT NULL,
    process     VARCHAR(255)  NOT NULL,
    first_start DATETIME(6)   NOT NULL,
    last_start  DATETIME(6)   NOT NULL,
    starts      BIGINT        NOT NULL,
    updated_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (series, first_start),
    KEY by_update (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The live query's ledger: one row per micro-batch, committed with its changes.
CREATE TABLE IF NOT EXISTS live_batches (
    query        VARCHAR(64) NOT NULL,
    batch_id     BIGINT      NOT NULL,
    committed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (query, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
