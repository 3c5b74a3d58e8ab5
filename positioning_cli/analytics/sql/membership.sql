-- Index membership on a day, defined once for the SQL analytics: the latest snapshot on or before the
-- day, else (a day before the first snapshot) the earliest one. Reads `members("index", as_of, symbol)`.
-- member_spans: each snapshot with the days it stands for, valid_from <= day < valid_to.
CREATE OR REPLACE TEMP VIEW member_spans AS
SELECT "index", as_of,
  CASE WHEN as_of = min(as_of) OVER (PARTITION BY "index") THEN DATE '0001-01-01' ELSE as_of END AS valid_from,
  coalesce(lead(as_of) OVER (PARTITION BY "index" ORDER BY as_of), DATE '9999-12-31') AS valid_to
FROM (SELECT DISTINCT "index", as_of FROM members);
