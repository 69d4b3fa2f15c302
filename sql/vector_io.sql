-- fm_vector: text and binary input/output, type modifier, casts.
-- try() shows the SQLSTATE, message and detail of an error in one line.
\i sql/include/try.sql

-- text form round-trips, whitespace tolerated, shortest exact output
SELECT '[1,2.5,-3e-2]'::fm_vector;
SELECT E'\t [ 1 ,\n2 ,3 ]  '::fm_vector;
SELECT '[0.1, 1e-7, 3.4028235e38, -1.17549435e-38, 1e-45]'::fm_vector;
SELECT '[-0]'::fm_vector AS negative_zero_is_zero;
SELECT '[.5, 5., +2]'::fm_vector;
SELECT fm_dims('[1,2,3]');

-- malformed text: 22P02 with what and where in the detail
SELECT q, pg_temp.try(format('SELECT %L::fm_vector', q)) FROM (VALUES
  (''), ('   '), ('[]'), ('[,]'), ('[1,,2]'), ('[1,2'), ('1,2]'), ('[[1]]'), ('[1,2]x'),
  ('[1 2]'), ('[nan]'), ('[-Infinity]'), ('[1e39]'), ('[-1e39]'), ('[1e-50]'), ('[0x10]'),
  ('[1_000]'), ('[1e]'), ('[.]'), ('[-]'), ('[١]'), ('[1,2,]')) t(q);

-- type modifier: 1..16000
CREATE TABLE items (id int, embedding fm_vector(3));
INSERT INTO items VALUES (1, '[1,2,3]');
SELECT pg_temp.try($$INSERT INTO items VALUES (2, '[1,2]')$$);
SELECT pg_temp.try($$UPDATE items SET embedding = '[1,2,3,4]' WHERE id = 1$$);
SELECT pg_temp.try($$SELECT '[1,2]'::fm_vector(3)$$);
SELECT '[1,2]'::fm_vector(2);
SELECT pg_temp.try('CREATE TABLE bad (v fm_vector(0))');
SELECT pg_temp.try('CREATE TABLE bad (v fm_vector(-1))');
SELECT pg_temp.try('CREATE TABLE bad (v fm_vector(16001))');
SELECT pg_temp.try('CREATE TABLE bad (v fm_vector(3, 4))');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'items'::regclass AND attname = 'embedding';
DROP TABLE items;

-- dimension limit
SELECT fm_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::fm_vector);
SELECT pg_temp.try(format('SELECT %L::fm_vector', '[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']'));
SELECT pg_temp.try(format('SELECT %L::fm_vector', '[' || repeat(' ', 100000) || '1]'));

-- casts from and to arrays
SELECT ARRAY[1.5, 2, -3]::real[]::fm_vector;
SELECT ARRAY[1.5, 2, -3]::double precision[]::fm_vector;
SELECT ARRAY[1, 2, 3]::fm_vector;
SELECT '[1,2,3]'::fm_vector::real[];
SELECT q, pg_temp.try('SELECT ' || q) FROM (VALUES
  ('ARRAY[1, NULL, 3]::real[]::fm_vector'),
  ('ARRAY[[1, 2], [3, 4]]::real[]::fm_vector'),
  ($$'{}'::real[]::fm_vector$$),
  ($$ARRAY['NaN']::real[]::fm_vector$$),
  ($$ARRAY['Infinity']::double precision[]::fm_vector$$),
  ('ARRAY[1e300]::double precision[]::fm_vector'),
  ('ARRAY[1, 2]::real[]::fm_vector(3)'),
  ($$ARRAY[1]::real[]::fm_vector(2)$$)) t(q);

-- binary send/recv round-trip through COPY BINARY
CREATE TEMP TABLE src (v fm_vector);
INSERT INTO src VALUES ('[1,-2.5,3e-3]'), ('[0.1]');
SELECT fm_vector_send(v) FROM src;
COPY src TO '/tmp/fmrec_vector_io.bin' WITH (FORMAT binary);
CREATE TEMP TABLE dst (v fm_vector);
COPY dst FROM '/tmp/fmrec_vector_io.bin' WITH (FORMAT binary);
SELECT d.v, d.v = s.v AS same FROM dst d JOIN src s ON fm_dims(d.v) = fm_dims(s.v);
-- typmod applies to binary input too
CREATE TEMP TABLE dst3 (v fm_vector(3));
SELECT pg_temp.try($$COPY dst3 FROM '/tmp/fmrec_vector_io.bin' WITH (FORMAT binary)$$);
