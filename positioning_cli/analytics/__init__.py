"""Set-based analytics on DuckDB: every number defined once, in the SQL files under ``sql/``.

Sequential series maths (EMA, ATR, Bollinger, Keltner) stays in numpy; parsing and writing stay in
pyarrow. Modules here read the store only through the file lists its manifest names (never a glob).
"""
