-- Constituents' average daily dollar volume per index and day (README "Flows"), for the days of
-- `flow_days(d)` (the index proxy's sessions wanted). Reads `prices(symbol, "date", close, volume)`
-- and `members` with membership.sql run first.
-- A stock's average daily dollar volume on d: the mean of close x volume over its 20 sessions up to
-- and including d (null until it has 20 with a volume). The index's: the sum over its constituents
-- on d (membership.sql) that have one, with how many do.
CREATE OR REPLACE TEMP VIEW dv_stock AS
SELECT symbol, "date" AS d,
  CASE WHEN count(volume) OVER w = 20 THEN avg(close * volume) OVER w END AS adv_usd
FROM prices
WHERE "date" <= (SELECT max(d) FROM flow_days) AND "date" >= (SELECT min(d) FROM flow_days) - 60
WINDOW w AS (PARTITION BY symbol ORDER BY "date" ROWS BETWEEN 19 PRECEDING AND CURRENT ROW);

CREATE OR REPLACE TEMP VIEW dv_index AS
SELECT s."index", days.d, sum(v.adv_usd) AS adv_usd, count(v.adv_usd) AS members_with_dollar_volume
FROM member_spans AS s
JOIN flow_days AS days ON days.d >= s.valid_from AND days.d < s.valid_to
JOIN members AS m ON m."index" = s."index" AND m.as_of = s.as_of
LEFT JOIN dv_stock AS v ON v.symbol = m.symbol AND v.d = days.d
GROUP BY s."index", days.d;
