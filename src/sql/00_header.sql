-- fmrec 0.1.0: factorization machines inside PostgreSQL.
\echo Use "CREATE EXTENSION fmrec" to load this file. \quit
