-- Daily short-sale volume ratio (README "Short-sale volume"), per index and per stock.
-- Reads `short_volume("date", symbol, facility, short_volume, total_volume)` and
-- `members("index", as_of, symbol)` with membership.sql run first; variables: `sv_from` (first date wanted; windows look back from
-- it), `as_of` (the day the statistics are for: the latest day held on or before it).
--
-- Which files count (FINRA's off-exchange volume, each trade once):
--   a day with FINRA's consolidated file (CNMS) takes it, and ignores the facility files it sums
--   (FNQC, FNRA, FNSQ, FNYX); a day without it adds those facility files up; FORF (OTC securities,
--   not in CNMS) is added either way. Exchange files (NYSE, ARCA, AMEX, ...) are held in the store
--   but not added: only the NYSE group publishes them, so adding them would change the ratio's level
--   with whichever exchange files happen to be held.
-- ratio: Σ short volume / Σ total volume (over the index's constituents as of the day: the latest
--   membership snapshot on or before it, else the earliest); null when the total is 0.
-- avg_5d / avg_20d: the mean of the daily ratios over the last 5 / 20 days held (null until there
--   are that many).
-- pct_1y: the share of the daily ratios in (d - 365 days, d] that are <= the ratio on d, in percent
--   (100 = highest in the year), with the observation count and `complete` (history reaches back a
--   full year); z_1y: (ratio - mean) / sample standard deviation over the same days.
CREATE OR REPLACE TEMP VIEW sv_days AS
SELECT "date" AS d, bool_or(facility = 'CNMS') AS has_consolidated
FROM short_volume
WHERE "date" >= getvariable('sv_from') - 400 AND "date" <= getvariable('as_of')
GROUP BY "date";

CREATE OR REPLACE TEMP VIEW sv_counted AS  -- the rows that count, by the rule above
SELECT v."date" AS d, v.symbol, v.short_volume, v.total_volume
FROM short_volume AS v JOIN sv_days AS days ON days.d = v."date"
WHERE v.facility = 'FORF'
   OR (days.has_consolidated AND v.facility = 'CNMS')
   OR (NOT days.has_consolidated AND v.facility IN ('FNQC', 'FNRA', 'FNSQ', 'FNYX'));

CREATE OR REPLACE TEMP VIEW sv_symbol_daily AS
SELECT d, symbol, sum(short_volume) AS short, sum(total_volume) AS total FROM sv_counted GROUP BY d, symbol;

CREATE OR REPLACE TEMP VIEW sv_day_snapshot AS  -- membership.sql's rule
SELECT s."index", days.d, s.as_of
FROM member_spans AS s JOIN sv_days AS days ON days.d >= s.valid_from AND days.d < s.valid_to;

-- The same sums for the symbols that were ever an index member, filtered before the grouping
-- (DuckDB does not move the filter below it): an index needs no other symbol's volume, and a
-- full-market day holds three times as many.
CREATE OR REPLACE TEMP VIEW sv_member_daily AS
SELECT d, symbol, sum(short_volume) AS short, sum(total_volume) AS total
FROM sv_counted WHERE symbol IN (SELECT symbol FROM members) GROUP BY d, symbol;

CREATE OR REPLACE TEMP VIEW sv_index_daily AS
SELECT ds."index" AS key, ds.d, ds.as_of AS membership_as_of,
  sum(f.short) AS short, sum(f.total) AS total, count(f.symbol) AS members_with_volume
FROM sv_day_snapshot AS ds
JOIN members AS m ON m."index" = ds."index" AND m.as_of = ds.as_of
LEFT JOIN sv_member_daily AS f ON f.d = ds.d AND f.symbol = m.symbol
GROUP BY ds."index", ds.d, ds.as_of;

CREATE OR REPLACE TEMP VIEW sv_series AS
WITH both_kinds AS (
  SELECT 'index' AS kind, key, d, short, total, members_with_volume FROM sv_index_daily
  UNION ALL
  SELECT 'stock' AS kind, symbol AS key, d, short, total, 1 AS members_with_volume FROM sv_symbol_daily
),
ratios AS (
  SELECT *, CASE WHEN total > 0 THEN short / total END AS ratio FROM both_kinds
)
SELECT *,
  CASE WHEN count(ratio) OVER w5 = 5 THEN avg(ratio) OVER w5 END AS avg_5d,
  CASE WHEN count(ratio) OVER w20 = 20 THEN avg(ratio) OVER w20 END AS avg_20d
FROM ratios
WINDOW w5 AS (PARTITION BY kind, key ORDER BY d ROWS BETWEEN 4 PRECEDING AND CURRENT ROW),
       w20 AS (PARTITION BY kind, key ORDER BY d ROWS BETWEEN 19 PRECEDING AND CURRENT ROW);

CREATE OR REPLACE TEMP VIEW sv_stats AS
WITH latest AS (
  SELECT kind, key, max(d) AS d, min(d) AS history_from FROM sv_series GROUP BY kind, key
),
now AS (
  SELECT s.*, l.history_from FROM sv_series AS s JOIN latest AS l USING (kind, key, d)
),
window_rows AS (
  SELECT n.kind, n.key,
    count(s.ratio) AS obs,
    100.0 * count(s.ratio) FILTER (s.ratio <= n.ratio) / count(s.ratio) AS pct_1y,
    avg(s.ratio) AS mean_1y,
    stddev_samp(s.ratio) AS sd_1y
  FROM now AS n JOIN sv_series AS s
    ON s.kind = n.kind AND s.key = n.key AND s.d > n.d - 365 AND s.d <= n.d
  WHERE n.ratio IS NOT NULL
  GROUP BY n.kind, n.key
)
SELECT n.kind, n.key, n.d AS "date", n.short, n.total, n.ratio, n.avg_5d, n.avg_20d, n.members_with_volume,
  w.pct_1y, coalesce(w.obs, 0) AS pct_1y_obs,
  n.history_from <= n.d - 365 AS pct_1y_complete,
  CASE WHEN w.sd_1y > 0 THEN (n.ratio - w.mean_1y) / w.sd_1y END AS z_1y
FROM now AS n LEFT JOIN window_rows AS w USING (kind, key);
