
# A feature with 10^6 distinct values (one row per value): the dictionary,
# the model and the write of 10^6 fm_feature rows.  Too slow for pg_regress
# (writing 10^6 indexed rows takes seconds), so it lives here; the timing is
# reported, never asserted.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FmrecTest;

# Bigger shared buffers than the tests' default 128MB: the 10^6 rows and
# their index then stay in memory instead of being written out mid-insert.
my $node = fmrec_node('large', conf => ['log_statement = none', 'shared_buffers = 512MB']);

$node->safe_psql(
	'postgres', q{
	CREATE TABLE wide AS
	SELECT 'v' || x AS token, (x % 5 + 1)::real AS rating
	  FROM generate_series(1, 1000000) x;
});

my $start = time;
my $summary = $node->safe_psql(
	'postgres', q{
	SET client_min_messages = warning;
	SELECT rows_used, rows_skipped, n_features
	  FROM fm_train_from_table('wide', 'rating', ARRAY['token'], 'wide', k => 2, epochs => 1,
	                           validation_fraction => 0)});
my $elapsed = time - $start;
is($summary, '1000000|0|1000000',
	'10^6 distinct values: every row used, one feature per value');
diag(sprintf('training on 10^6 distinct values took %.1f s (not asserted)', $elapsed));

# Every value got its row, each with a 2-dimensional embedding, and the
# model row says so.
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*), count(DISTINCT value), bool_and(fm_dims(embedding) = 2),
		       (SELECT n_features FROM fm_model WHERE model = 'wide')
		  FROM fm_feature WHERE model = 'wide'}),
	'1000000|1000000|t|1000000',
	'fm_feature holds all 10^6 values');

# Serving reaches any of them through the primary key: a known value moves
# the prediction away from w0, an unknown one does not.  (No validation
# split above, so every value was trained and has a bias.)
is( $node->safe_psql(
		'postgres', q{
		SELECT fm_predict('wide', ARRAY['token'], ARRAY['v777777'])
		         <> (SELECT w0 FROM fm_model WHERE model = 'wide'),
		       fm_predict('wide', ARRAY['token'], ARRAY['v1000001'])
		         = (SELECT w0 FROM fm_model WHERE model = 'wide')}),
	't|t',
	'fm_predict finds a value among 10^6 and ignores an unknown one');

$node->stop;
done_testing();
