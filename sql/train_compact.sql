-- The compact training data (src/core/dataset.h) and the fast read
-- (src/fm_train_source.c): integer id columns read as int8 through an
-- array train the same model as the same ids as text, with the same
-- fm_feature values ((col)::text), whatever their range (negative,
-- sparse); a validation relation may give them as text; and the memory
-- charged per rating stays within what the format promises.
SET client_min_messages = warning;	-- per-epoch NOTICEs carry timings

CREATE TABLE cp_int (user_id bigint, item_id int, small smallint, rating real);
INSERT INTO cp_int
SELECT CASE WHEN u % 10 = 0 THEN -u WHEN u % 10 = 1 THEN u * 1000000007::bigint ELSE u END,
       i, (i % 3)::smallint, 1 + (u * 7 + i * 3) % 5
  FROM generate_series(1, 60) u, generate_series(1, 40) i
 WHERE (u * 13 + i * 7) % 4 <> 0;
CREATE TABLE cp_text AS
SELECT user_id::text AS user_id, item_id::text AS item_id, small::text AS small, rating FROM cp_int;

SELECT rows_used, n_features FROM fm_train_from_table('cp_int', 'rating', ARRAY['user_id', 'item_id', 'small'],
                                            'cp_int', k => 4, epochs => 5, seed => 3);
SELECT rows_used, n_features FROM fm_train_from_table('cp_text', 'rating', ARRAY['user_id', 'item_id', 'small'],
                                            'cp_text', k => 4, epochs => 5, seed => 3);
-- the same features, values and parameters, bit for bit
SELECT count(*) AS features,
       bool_and(a.bias = b.bias AND a.embedding::text = b.embedding::text) AS same_parameters
  FROM fm_feature a FULL JOIN fm_feature b
    ON b.model = 'cp_text' AND a.feature = b.feature AND a.value = b.value
 WHERE a.model = 'cp_int';
SELECT count(*) AS values_as_text FROM fm_feature f
 WHERE f.model = 'cp_int' AND f.feature = 'user_id'
   AND f.value IN (SELECT user_id::text FROM cp_int);
SELECT min(value), max(value) FROM fm_feature WHERE model = 'cp_int' AND feature = 'user_id';

-- a validation relation with the ids as text reads like one with integers
SELECT a.validation_rmse = b.validation_rmse AS same_validation
  FROM fm_train_from_table('cp_int', 'rating', ARRAY['user_id', 'item_id', 'small'], 'cp_v1',
                           k => 4, epochs => 5, seed => 3, validation => 'cp_int') a,
       fm_train_from_table('cp_int', 'rating', ARRAY['user_id', 'item_id', 'small'], 'cp_v2',
                           k => 4, epochs => 5, seed => 3, validation => 'cp_text') b;

-- 20,000 ratings of 7 non-zeros (a MovieLens shape): about 40 bytes a
-- rating of data, 8 of epoch order, and the dictionary and model; the
-- format before 0.3.0 needed over 150 bytes a rating (3 MB)
CREATE TABLE cp_big AS
SELECT (i * 7919) % 201 AS user_id, (i * 104729) % 1000 AS movie_id,
       'a' || (i * 7919) % 201 % 7 AS age, 'g' || (i * 7919) % 201 % 2 AS gender,
       'o' || (i * 7919) % 201 % 11 AS occupation,
       ARRAY['x' || (i * 104729) % 1000 % 10, 'y' || (i * 104729) % 1000 % 10] AS genres,
       (1 + i % 5)::real AS rating
  FROM generate_series(1, 20000) i;
SET fmrec.max_training_memory = '1280kB';
SELECT rows_used FROM fm_train_from_table('cp_big', 'rating',
    ARRAY['user_id', 'movie_id', 'age', 'gender', 'occupation', 'genres'], 'cp_big', k => 2, epochs => 1);
SET fmrec.max_training_memory = '1024kB';
DO $$
BEGIN
  PERFORM fm_train_from_table('cp_big', 'rating',
      ARRAY['user_id', 'movie_id', 'age', 'gender', 'occupation', 'genres'], 'cp_big', k => 2, epochs => 1);
EXCEPTION WHEN out_of_memory THEN
  RAISE WARNING 'too little memory: %', SQLSTATE;
END $$;
RESET fmrec.max_training_memory;

SELECT fm_drop_model(m) FROM unnest(ARRAY['cp_int', 'cp_text', 'cp_v1', 'cp_v2', 'cp_big']) m;
DROP TABLE cp_int, cp_text, cp_big;
