-- fmrec 0.2.0: factorization machines inside PostgreSQL.
\echo Use "CREATE EXTENSION fmrec" to load this file. \quit
