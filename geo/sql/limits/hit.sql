-- Count one hit of a rate-limit bucket in the current fixed window (atomic upsert: any number
-- of app workers and instances share the counters) and read the previous window's hits, for
-- the sliding-window estimate of geo/ratelimit.py.
-- Parameters: :bucket (text), :window (bigint, start of the current window in epoch seconds),
--   :previous (bigint, start of the previous window),
--   :period (integer, window length in seconds). SRIDs: none. Indexes: pk_rate_limit_window.
WITH hit AS (
    INSERT INTO rate_limit_window (bucket, window_start, period_s, hits)
    VALUES (:bucket, :window, :period, 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_window.hits + 1
    RETURNING hits
)
SELECT (SELECT hits FROM hit) AS current_hits,
       coalesce((SELECT hits FROM rate_limit_window
                 WHERE bucket = :bucket AND window_start = :previous), 0) AS previous_hits
