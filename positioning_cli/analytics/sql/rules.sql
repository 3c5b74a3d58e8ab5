-- Rules every SQL analytic shares, defined once. The variables are bound by analytics/engine.py from
-- the Python constants that the README and the tests name (engine.rules_sql):
--   close_tolerance_days  engine.CLOSE_TOLERANCE_DAYS: "the close on d" is the last close on or before d
--                         no older than this many days (covers a long weekend and a holiday)
--   max_si_pct            the quarantine threshold (scan --max-si-pct): SI above this % of shares outstanding
--                         is not averaged
--   dtc_floor             engine.DTC_FLOOR: FINRA reports days to cover as 1 when volume exceeds SI

-- The close on d: the as-of close found for d (its date px_date), or NULL when it is too old.
CREATE OR REPLACE TEMP MACRO close_on(d, px_date, close) AS
  CASE WHEN d - px_date <= getvariable('close_tolerance_days') THEN close END;

-- A denominator from two files: the first value > 1 (the membership file's, then the short-interest
-- file's), else whatever non-null value exists, so a bad 0 or 1 is kept and quarantined with a reason
-- instead of silently leaving the denominator count.
CREATE OR REPLACE TEMP MACRO resolve_denominator(from_members, from_si) AS
  CASE WHEN from_members > 1 THEN from_members WHEN from_si > 1 THEN from_si
       ELSE coalesce(from_members, from_si) END;

-- SI as % of a denominator; NULL without a usable one (> 1 share).
CREATE OR REPLACE TEMP MACRO si_pct(si, denominator) AS
  CASE WHEN denominator > 1 THEN 100 * si / denominator END;

-- Days to cover: SI / average daily volume floored at FINRA's 1.0, NULL without volume.
CREATE OR REPLACE TEMP MACRO days_to_cover(si, adv) AS
  CASE WHEN adv > 0 THEN greatest(si / adv, getvariable('dtc_floor')) END;

-- The row is kept out of the SI % statistics: shares outstanding of 1 or less, SI above max_si_pct of
-- them, or an SEC value that cannot be used (sec_reason, see sec.sql). Its shares still count in totals.
CREATE OR REPLACE TEMP MACRO quarantined(so, si, sec_reason) AS
  coalesce(so <= 1, false) OR coalesce(si_pct(si, so) > getvariable('max_si_pct'), false)
  OR sec_reason IS NOT NULL;

-- The median as pandas and numpy compute it: the middle value, or (a + b) / 2 of the two middle
-- values. DuckDB's median interpolates a + (b - a) / 2, which can differ in the last bit, and the
-- JSON outputs print every bit. NULLs are skipped; NULL over no value.
CREATE OR REPLACE TEMP MACRO middle_of_sorted(l) AS
  CASE WHEN len(l) = 0 THEN NULL WHEN len(l) % 2 = 1 THEN l[(len(l) + 1) // 2]
       ELSE (l[len(l) // 2] + l[len(l) // 2 + 1]) / 2 END;
CREATE OR REPLACE TEMP MACRO median_of(x) AS middle_of_sorted(list_sort(list(x) FILTER (x IS NOT NULL)));
