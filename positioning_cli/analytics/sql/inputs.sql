-- The tables the index-level SQL reads, with one type per column whatever their source: analytics/engine.py
-- defines si_input, members_input, prices_input and shares_input as the store's Parquet files (the
-- manifest's file lists, never a glob) or, for a --known-at snapshot rebuilt in memory, as those tables.
CREATE OR REPLACE TEMP VIEW short_interest AS
SELECT settlement_date::DATE AS settlement_date, symbol::VARCHAR AS symbol,
  short_interest::DOUBLE AS short_interest, avg_daily_volume::DOUBLE AS avg_daily_volume,
  coalesce(split_flag::BOOLEAN, false) AS split_flag,
  shares_outstanding::DOUBLE AS shares_outstanding, float_shares::DOUBLE AS float_shares
FROM si_input;

CREATE OR REPLACE TEMP VIEW members AS
SELECT "index"::VARCHAR AS "index", as_of::DATE AS as_of, symbol::VARCHAR AS symbol,
  shares_outstanding::DOUBLE AS shares_outstanding, float_shares::DOUBLE AS float_shares
FROM members_input;

-- Daily closes: the quoted close (api.read_prices gives the adjusted close on a day only an adjusted-
-- prices file gave; the engine's file view applies the same coalesce).
CREATE OR REPLACE TEMP VIEW prices AS
SELECT symbol::VARCHAR AS symbol, "date"::DATE AS "date", close::DOUBLE AS close FROM prices_input;

CREATE OR REPLACE TEMP VIEW shares AS
SELECT symbol::VARCHAR AS symbol, period_end::DATE AS period_end, filed::DATE AS filed,
  shares::DOUBLE AS shares, share_classes::DOUBLE AS share_classes
FROM shares_input;
