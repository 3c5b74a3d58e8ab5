-- Index levels per settlement date (DOMAIN "Metrics"; README "Index levels"), defined once.
-- Reads the views of inputs.sql, member_spans (membership.sql), sec_values and sec_reason_on (sec.sql)
-- and the macros of rules.sql; variable `proxies`: the index price proxies, which are not stock closes.
--
-- For index I on settlement date d, over the constituents of I's snapshot for d (the latest on or
-- before d, else the earliest, flagged before_first_snapshot) that have a short-interest row on d:
--   shares outstanding: the membership file's (> 1), else the short-interest file's (> 1), else SEC's
--   value for d (sec.sql); float: the membership file's, else the short-interest file's.
--   quarantined rows (rules.sql `quarantined`) stay out of the SI % medians and the cap-weighted figure,
--   but their shares count in total_si_shares, which needs no denominator.
-- Every settlement date with a short-interest row is a row of every index with membership, even when
-- none of its constituents reports (counts 0, figures NULL).
-- level_snapshots: the snapshot each (index, settlement date) uses.
CREATE OR REPLACE TEMP VIEW level_snapshots AS
SELECT s."index" AS idx, dates.d, s.as_of, dates.d < first.as_of AS before_first_snapshot
FROM (SELECT DISTINCT settlement_date AS d FROM short_interest WHERE short_interest IS NOT NULL) AS dates
JOIN member_spans AS s ON dates.d >= s.valid_from AND dates.d < s.valid_to
JOIN (SELECT "index", min(as_of) AS as_of FROM members GROUP BY ALL) AS first ON first."index" = s."index";

-- level_joined: each constituent with an SI row on d, its denominators from the files and its close.
CREATE OR REPLACE TEMP VIEW level_joined AS
WITH
si AS (
  SELECT settlement_date AS d, symbol, short_interest AS si, avg_daily_volume AS adv, split_flag,
         shares_outstanding AS so_si, float_shares AS fl_si
  FROM short_interest WHERE short_interest IS NOT NULL
),
stock_closes AS (
  SELECT symbol, "date", close FROM prices
  WHERE close IS NOT NULL AND NOT list_contains(getvariable('proxies'), symbol)
)
SELECT p.idx, p.d, si.symbol, si.si, si.adv, si.split_flag, m.shares_outstanding AS so_m, si.so_si,
       resolve_denominator(m.shares_outstanding, si.so_si) AS so_files,
       resolve_denominator(m.float_shares, si.fl_si) AS fl,
       close_on(si.d, px."date", px.close) AS close
FROM level_snapshots AS p
JOIN members AS m ON m."index" = p.idx AND m.as_of = p.as_of
JOIN si ON si.d = p.d AND si.symbol = m.symbol
ASOF LEFT JOIN stock_closes AS px ON px.symbol = si.symbol AND px."date" <= si.d;

-- SEC's value only for the rows no file gives shares outstanding > 1 for (sec.sql).
CREATE OR REPLACE TEMP VIEW level_sec_requests AS
SELECT d, symbol FROM level_joined WHERE NOT coalesce(so_files > 1, false);

-- level_rows: level_joined with the shares outstanding used (so) and the SEC reason, if any.
CREATE OR REPLACE TEMP VIEW level_rows AS
SELECT j.*, sec.sec_shares IS NOT NULL AS use_sec,
  CASE WHEN sec.sec_shares IS NOT NULL THEN sec.sec_shares ELSE j.so_files END AS so,
  sec.sec_reason
FROM level_joined AS j
LEFT JOIN sec_for('level_sec_requests') AS sec
  ON sec.d = j.d AND sec.symbol = j.symbol AND NOT coalesce(j.so_files > 1, false);

CREATE OR REPLACE TEMP VIEW index_levels AS
WITH
rows AS (
  SELECT idx, d, si, adv, split_flag, so, close,
         so > 1 AS has_so, adv > 0 AS has_adv, close IS NOT NULL AS has_px,
         si_pct(si, so) AS pct_so, si_pct(si, fl) AS pct_fl, days_to_cover(si, adv) AS dtc,
         quarantined(so, si, sec_reason) AS quarantined
  FROM level_rows
),
sizes AS (SELECT "index" AS idx, as_of, count(DISTINCT symbol) AS members FROM members GROUP BY ALL)
SELECT p.idx AS "index", p.d AS settlement_date,
  any_value(n.members) AS members,
  count(r.si) AS members_with_si,
  count(*) FILTER (r.has_so) AS members_with_denominator,
  count(*) FILTER (r.has_px) AS members_with_price,
  fsum(r.si) AS total_si_shares,
  fsum(r.si * r.close) AS total_si_value,
  median_of(CASE WHEN NOT r.quarantined THEN r.pct_so END) AS median_si_pct_so,
  100 * fsum(r.si * r.close) FILTER (NOT r.quarantined AND r.has_so AND r.has_px)
      / fsum(r.so * r.close) FILTER (NOT r.quarantined AND r.has_so AND r.has_px) AS cap_weighted_si_pct_so,
  median_of(CASE WHEN NOT r.quarantined THEN r.pct_fl END) AS median_si_pct_float,
  fsum(r.si) FILTER (r.has_adv) / fsum(r.adv) FILTER (r.has_adv) AS agg_days_to_cover,
  median_of(r.dtc) AS median_days_to_cover,
  count(*) FILTER (r.quarantined) AS quarantined,
  count(*) FILTER (r.split_flag) AS split_flagged,
  p.as_of AS membership_as_of, p.before_first_snapshot
FROM level_snapshots AS p
JOIN sizes AS n ON n.idx = p.idx AND n.as_of = p.as_of
LEFT JOIN rows AS r ON r.idx = p.idx AND r.d = p.d
GROUP BY p.idx, p.d, p.as_of, p.before_first_snapshot
ORDER BY p.idx, p.d;

-- Where each constituent with SI on d got its shares outstanding (scan's "denominators"): the
-- members file, the SI file, SEC, or none (no usable value and no quarantined SEC one), and how many
-- of the SEC ones are quarantined.
CREATE OR REPLACE TEMP VIEW denominator_counts AS
WITH sourced AS (
  SELECT idx, d, so, si, sec_reason,
    CASE WHEN NOT (coalesce(so > 1, false) OR sec_reason IS NOT NULL) THEN 'none'
         WHEN so_m > 1 THEN 'members_file' WHEN so_si > 1 THEN 'short_interest_file'
         WHEN use_sec THEN 'sec' ELSE 'none' END AS source
  FROM level_rows
)
SELECT idx AS "index", d AS settlement_date,
  count(*) FILTER (source = 'members_file') AS members_file,
  count(*) FILTER (source = 'short_interest_file') AS short_interest_file,
  count(*) FILTER (source = 'sec') AS sec,
  count(*) FILTER (source = 'none') AS "none",
  count(*) FILTER (source = 'sec' AND quarantined(so, si, sec_reason)) AS sec_quarantined
FROM sourced GROUP BY ALL;
