-- Constituents' average daily dollar volume and dollar short interest per index and day (README
-- "flows"), for the days of `flow_days(d)` (the index proxy's sessions wanted). Reads
-- `prices(symbol, "date", close, volume)`, `short_interest(settlement_date, symbol, short_interest)`
-- and `members` with membership.sql run first.
-- A stock's average daily dollar volume on d: the mean of close x volume over its 20 sessions up to
-- and including d (null until it has 20 with a volume). The index's: the sum over its constituents
-- on d (membership.sql) that have one, with how many do.
-- Covering pressure: Σ short interest (the latest settlement on or before d) x close on d over Σ
-- average daily dollar volume, over the constituents with both: the days of dollar volume the
-- short positions would take to cover at that day's price.
CREATE OR REPLACE TEMP VIEW dv_stock AS
SELECT symbol, "date" AS d, close,
  CASE WHEN count(volume) OVER w = 20 THEN avg(close * volume) OVER w END AS adv_usd
FROM prices
WHERE "date" <= (SELECT max(d) FROM flow_days) AND "date" >= (SELECT min(d) FROM flow_days) - 60
WINDOW w AS (PARTITION BY symbol ORDER BY "date" ROWS BETWEEN 19 PRECEDING AND CURRENT ROW);

CREATE OR REPLACE TEMP VIEW dv_stock_si AS
SELECT v.symbol, v.d, v.adv_usd, si.short_interest * v.close AS si_usd
FROM (SELECT * FROM dv_stock WHERE d IN (SELECT d FROM flow_days)) AS v
ASOF LEFT JOIN short_interest AS si ON si.symbol = v.symbol AND si.settlement_date <= v.d;

CREATE OR REPLACE TEMP VIEW dv_index AS
SELECT s."index", days.d, sum(v.adv_usd) AS adv_usd, count(v.adv_usd) AS members_with_dollar_volume,
  sum(v.si_usd) FILTER (v.adv_usd IS NOT NULL) AS si_usd,
  sum(v.si_usd) FILTER (v.adv_usd IS NOT NULL) / sum(v.adv_usd) FILTER (v.si_usd IS NOT NULL) AS cover_days
FROM member_spans AS s
JOIN flow_days AS days ON days.d >= s.valid_from AND days.d < s.valid_to
JOIN members AS m ON m."index" = s."index" AND m.as_of = s.as_of
LEFT JOIN dv_stock_si AS v ON v.symbol = m.symbol AND v.d = days.d
GROUP BY s."index", days.d;
