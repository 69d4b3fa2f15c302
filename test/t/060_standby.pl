
# A primary with a streaming standby: models trained on the primary reach
# the standby through WAL like any table; the standby serves the same
# top-10 with bit-identical scores and the same predictions, and refuses to
# train with a clear error (25006) instead of failing somewhere inside.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $primary = fmrec_node('primary', init => { allows_streaming => 1 });
$primary->safe_psql('postgres', make_ratings('ratings', 200, 150, 3));
$primary->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 5));

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Retrain after the base backup, so the standby gets this model through
# streaming, not in the copied files.
$primary->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 5, seed => 7));
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is(model_state($standby, 'postgres', 'm'), model_state($primary, 'postgres', 'm'),
	'the standby has the model as on the primary (trained_at, k, rows, bits)');

# The top-10 for the same query vector, scores as exact bits.  The query
# vector is given literally (taken from the primary), as a client holding
# one would; and computed on each server with fm_query.
my $q = $primary->safe_psql('postgres', q{SELECT fm_query('m', ARRAY['user_id'], ARRAY['17'])});
my $top10 = q{
	SELECT string_agg(value || '=' || encode(float8send(score), 'hex'), ',' ORDER BY score DESC, value COLLATE "C")
	  FROM (SELECT value, fm_score(%s, embedding, bias) AS score
	          FROM fm_feature WHERE model = 'm' AND feature = 'item_id'
	         ORDER BY score DESC, value COLLATE "C" LIMIT 10) t};
my %vectors = (
	'a literal query vector' => "'$q'::fm_vector",
	'fm_query()' => q{fm_query('m', ARRAY['user_id'], ARRAY['17'])});
for my $name (sort keys %vectors)
{
	my $on_primary = $primary->safe_psql('postgres', sprintf($top10, $vectors{$name}));
	like($on_primary, qr/^(\d+=[0-9a-f]{16},){9}\d+=[0-9a-f]{16}$/, "top-10 on the primary for $name");
	is($standby->safe_psql('postgres', sprintf($top10, $vectors{$name})), $on_primary,
		"the standby returns the same top-10, bit-identical scores, for $name");
}
my $predict = q{SELECT encode(float8send(fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY['17', '4'])), 'hex')};
is($standby->safe_psql('postgres', $predict), $primary->safe_psql('postgres', $predict),
	'fm_predict is bit-identical on the standby');

# Training on the standby: refused with 25006 and a message that says why.
# The model is untouched (a standby could not change it anyway).
my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	"\\set VERBOSITY verbose\n" . train_sql('ratings', 'm', k => 4, epochs => 1), on_error_stop => 1);
isnt($ret, 0, 'training on the standby fails');
like($stderr, qr/ERROR:\s+25006: cannot train a model during recovery/, 'with 25006 and a clear message');
like($stderr, qr/HINT:\s+Connect to the primary to train/, 'and a hint to train on the primary');
is(psql_error($standby, 'postgres', q{SELECT fm_drop_model('m')}) =~ s/:.*//r, '25006',
	'dropping a model on the standby is refused the same way (read-only transaction)');
is(model_state($standby, 'postgres', 'm'), model_state($primary, 'postgres', 'm'),
	'the standby still serves the primary\'s model');

$standby->stop;
$primary->stop;
done_testing();
