-- Price context as the market commentary quotes it, per symbol, on the date bound to `as_of`.
-- Reads the relation `closes(symbol, "date", close)`; the definitions (README "Price context"):
--   all-time high: the highest close in the history held, on or before as_of;
--   52-week high: the highest close in (as_of - 365 days, as_of];
--   breakout: the first close above the previous all-time high after the index had fallen at least
--     `correction` (a fraction, 0.10 = a 10% correction) below that high; the newest such date counts;
--   the breakout's run is intact while no close since it fell `correction` below the high before it;
--   weeks: calendar weeks (Monday to Sunday); a week's return runs from the previous week's last close
--     to its own last close; the week holding as_of is "to date", the weeks before it are complete;
--   months: likewise, calendar months; the streak counts complete months back from the newest one
--     while their returns keep the sign of the newest (a flat month ends it).
WITH c AS (
  SELECT symbol, "date" AS d, close::DOUBLE AS close
  FROM closes
  WHERE close > 0 AND "date" <= getvariable('as_of')
),
marks AS (  -- each close against the highest close before it
  SELECT *,
    max(close) OVER (PARTITION BY symbol ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_high
  FROM c
),
epochs AS (  -- an epoch runs from one new all-time high to the day before the next
  SELECT *, sum(CASE WHEN prior_high IS NULL OR close > prior_high THEN 1 ELSE 0 END)
              OVER (PARTITION BY symbol ORDER BY d) AS epoch
  FROM marks
),
epoch_depth AS (  -- how far each epoch fell below the high that opened it
  SELECT symbol, epoch, min(close) AS low, first(close ORDER BY d) AS high
  FROM epochs GROUP BY symbol, epoch
),
breakouts AS (
  SELECT e.symbol, max(e.d) AS breakout_date
  FROM epochs AS e
  JOIN epoch_depth AS prev ON prev.symbol = e.symbol AND prev.epoch = e.epoch - 1
  WHERE e.prior_high IS NOT NULL AND e.close > e.prior_high
    AND prev.low <= prev.high * (1 - getvariable('correction'))
  GROUP BY e.symbol
),
latest AS (
  SELECT symbol, max(d) AS d, arg_max(close, d) AS close, min(d) AS history_from,
    max(close) AS ath,
    max(close) FILTER (d > getvariable('as_of') - 365) AS high_52w
  FROM c GROUP BY symbol
),
highs AS (  -- the first date each high was reached
  SELECT l.symbol,
    min(c.d) FILTER (c.close = l.ath) AS ath_date,
    min(c.d) FILTER (c.close = l.high_52w AND c.d > getvariable('as_of') - 365) AS high_52w_date
  FROM latest AS l JOIN c ON c.symbol = l.symbol GROUP BY l.symbol
),
broken_runs AS (  -- a close since the breakout that fell a correction below the high before it
  SELECT b.symbol, bool_or(m.close <= m.prior_high * (1 - getvariable('correction'))) AS corrected
  FROM breakouts AS b JOIN marks AS m ON m.symbol = b.symbol AND m.d > b.breakout_date
  GROUP BY b.symbol
),
weeks AS (
  SELECT symbol, date_trunc('week', d) AS w, arg_max(close, d) AS last_close FROM c GROUP BY ALL
),
week_returns AS (
  SELECT w.symbol, w.w,
    w.last_close / lag(w.last_close) OVER (PARTITION BY w.symbol ORDER BY w.w) - 1 AS r
  FROM weeks AS w
),
since_breakout AS (
  SELECT wr.symbol,
    count(*) FILTER (wr.w < date_trunc('week', getvariable('as_of'))) AS weeks,
    list(wr.r ORDER BY wr.w) FILTER (wr.r < 0 AND wr.w < date_trunc('week', getvariable('as_of'))) AS down
  FROM week_returns AS wr JOIN breakouts AS b ON b.symbol = wr.symbol
  WHERE wr.w > date_trunc('week', b.breakout_date)
  GROUP BY wr.symbol
),
months AS (
  SELECT symbol, date_trunc('month', d) AS m, arg_max(close, d) AS last_close FROM c GROUP BY ALL
),
month_returns AS (
  SELECT symbol, m, last_close / lag(last_close) OVER (PARTITION BY symbol ORDER BY m) - 1 AS r
  FROM months
),
complete_months AS (  -- newest first, each with the sign of the newest complete month
  SELECT symbol, m, sign(r) AS s,
    first(sign(r)) OVER (PARTITION BY symbol ORDER BY m DESC) AS newest_sign,
    row_number() OVER (PARTITION BY symbol ORDER BY m DESC) AS k
  FROM month_returns WHERE m < date_trunc('month', getvariable('as_of'))
),
streaks AS (
  SELECT symbol,
    any_value(newest_sign) * coalesce(
      min(k) FILTER (s IS DISTINCT FROM newest_sign) - 1, count(*)) AS monthly_streak
  FROM complete_months GROUP BY symbol
)
SELECT l.symbol, l.d AS close_date, l.close, l.history_from,
  l.ath AS all_time_high, h.ath_date AS all_time_high_date,
  l.close >= l.ath AS at_all_time_high, 100 * (l.close / l.ath - 1) AS pct_from_all_time_high,
  l.high_52w, h.high_52w_date, l.close >= l.high_52w AS at_52w_high,
  100 * (l.close / l.high_52w - 1) AS pct_from_52w_high,
  b.breakout_date,
  CASE WHEN b.breakout_date IS NULL THEN NULL ELSE NOT coalesce(br.corrected, false) END AS breakout_run_intact,
  coalesce(sb.weeks, 0) AS weeks_since_breakout,
  coalesce(len(sb.down), 0) AS down_weeks_since_breakout,
  coalesce(list_transform(sb.down, lambda x: 100 * x), []) AS down_week_returns,
  100 * (SELECT r FROM week_returns AS wr
         WHERE wr.symbol = l.symbol AND wr.w = date_trunc('week', getvariable('as_of'))) AS week_to_date_return,
  coalesce(s.monthly_streak, 0)::INTEGER AS monthly_streak,
  100 * (SELECT r FROM month_returns AS mr
         WHERE mr.symbol = l.symbol AND mr.m = date_trunc('month', getvariable('as_of'))) AS month_to_date_return
FROM latest AS l
JOIN highs AS h USING (symbol)
LEFT JOIN breakouts AS b USING (symbol)
LEFT JOIN broken_runs AS br USING (symbol)
LEFT JOIN since_breakout AS sb USING (symbol)
LEFT JOIN streaks AS s USING (symbol)
ORDER BY l.symbol
