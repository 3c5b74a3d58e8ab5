-- SEC shares outstanding as denominators (README "Denominators"), defined once. Reads
-- `shares(symbol, period_end, filed, shares, share_classes)`; variables sec_placeholder_max, sec_jump,
-- sec_stale_days (engine.SEC_*), bound by analytics/engine.py.
--
-- sec_values: each value with the date-independent part of its quarantine decided once:
--   available  filed when known and after period_end, else period_end (when the value could be known)
--   reason     NULL, or why the value cannot be used on any date:
--              a placeholder (<= sec_placeholder_max shares);
--              an isolated outlier: sec_jump x off the symbol's previous non-placeholder value and off
--              its next one when there is one (a split agrees with the values after it; the newest
--              value after a 10x change waits for the next filing; the first value is the baseline);
--              an issuer-wide value shared by several share classes.
CREATE OR REPLACE TEMP VIEW sec_neighbours AS
SELECT symbol, period_end::DATE AS period_end,
  CASE WHEN filed::DATE > period_end::DATE THEN filed::DATE ELSE period_end::DATE END AS available,
  shares::DOUBLE AS shares, coalesce(share_classes::DOUBLE, 1) AS classes,
  shares::DOUBLE <= getvariable('sec_placeholder_max') AS placeholder,
  last_value(CASE WHEN shares::DOUBLE > getvariable('sec_placeholder_max') THEN shares::DOUBLE END IGNORE NULLS)
    OVER (PARTITION BY symbol ORDER BY period_end ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev,
  first_value(CASE WHEN shares::DOUBLE > getvariable('sec_placeholder_max') THEN shares::DOUBLE END IGNORE NULLS)
    OVER (PARTITION BY symbol ORDER BY period_end ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS nxt
FROM shares;

CREATE OR REPLACE TEMP VIEW sec_values AS
SELECT symbol, period_end, available, shares,
  CASE
    WHEN placeholder THEN format('SEC shares outstanding of {:,.0f} (a placeholder)', shares)
    WHEN greatest(shares / prev, prev / shares) >= getvariable('sec_jump')
         AND coalesce(greatest(shares / nxt, nxt / shares) >= getvariable('sec_jump'), true)
      THEN format('SEC shares outstanding {:,.0f} is 10x off the issuer''s {:,.0f}', shares, prev)
    WHEN classes > 1 THEN format('SEC value is issuer-wide, shared by {:.0f} share classes', classes)
  END AS reason
FROM sec_neighbours;

-- The SEC value for (symbol, d): the latest period_end among the values available by d, with its reason,
-- or "stale" when that value's period ended more than sec_stale_days before d.
CREATE OR REPLACE TEMP MACRO sec_reason_on(d, period_end, reason) AS
  coalesce(reason, CASE WHEN d - period_end > getvariable('sec_stale_days')
    THEN format('SEC value of {} is stale (over 15 months before the report)', strftime(period_end, '%Y-%m-%d')) END);

-- sec_for('relation'): for each (d, symbol) of the named relation that SEC has a value for by d, that
-- value (sec_shares) and why it cannot be used (sec_reason, NULL when it can). Index levels and the
-- per-stock rows (metrics.py) both ask it.
CREATE OR REPLACE TEMP MACRO sec_for(requests) AS TABLE
SELECT d, symbol, v.shares AS sec_shares, sec_reason_on(d, v.period_end, v.reason) AS sec_reason
FROM (
  SELECT r.d, r.symbol,
         arg_max({'shares': s.shares, 'period_end': s.period_end, 'reason': s.reason}, s.period_end) AS v
  FROM (SELECT DISTINCT d, symbol FROM query_table(requests)) AS r
  JOIN sec_values AS s ON s.symbol = r.symbol AND s.available <= r.d
  GROUP BY ALL
);
