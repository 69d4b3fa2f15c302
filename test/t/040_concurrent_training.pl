
# Two trainings of the same model at once: the second waits for the first
# (fmrec's advisory lock per model, held to the end of the transaction),
# then replaces its model; readers see one complete model at every moment,
# never a mix.  Trainings of different models do not wait for each other.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('concurrent');

# Three sources of different shapes, so a mix of two models would show:
# different k, different feature columns, different value sets.
$node->safe_psql('postgres', make_ratings('a', 100, 80, 3));
$node->safe_psql('postgres', make_ratings('b', 150, 120, 3));
$node->safe_psql('postgres', make_ratings('c', 200, 160, 3));

my $genre = "ARRAY['user_id', 'item_id', 'genre']";
my %expect = (
	a => { k => 4, features => "{user_id,item_id}" },
	b => { k => 6, features => "{user_id,item_id}" },
	c => { k => 8, features => "{user_id,item_id,genre}" });
for my $t (qw(a b c))
{
	my $cols = $t eq 'c' ? "count(DISTINCT user_id) + count(DISTINCT item_id) + count(DISTINCT genre)"
	  : "count(DISTINCT user_id) + count(DISTINCT item_id)";
	$expect{$t}{n} = $node->safe_psql('postgres', "SELECT $cols FROM $t");
}

sub train
{
	my ($t, $model, %p) = @_;
	return train_sql($t, $model, k => $expect{$t}{k}, epochs => 3,
		features => $t eq 'c' ? $genre : undef, %p);
}

# Asserts that $model is exactly one complete model trained on table $t:
# its k, its feature columns, n_features = rows in fm_feature, every
# embedding of k dimensions, and its (feature, value) set is the one of $t.
sub is_complete_model_of
{
	my ($model, $t, $what) = @_;
	my $values = join(
		' UNION ALL ',
		map { "SELECT '${_}'::text, ${_}::text FROM $t" }
		  ($t eq 'c' ? qw(user_id item_id genre) : qw(user_id item_id)));
	is( $node->safe_psql(
			'postgres', qq{
			SELECT m.k, m.features, m.n_features,
			       (SELECT count(*) FROM fm_feature f WHERE f.model = m.model),
			       (SELECT count(*) FROM fm_feature f WHERE f.model = m.model AND fm_dims(f.embedding) <> m.k),
			       (SELECT count(*) FROM (SELECT feature, value FROM fm_feature f WHERE f.model = m.model
			                              EXCEPT SELECT * FROM ($values) v) x)
			  FROM fm_model m WHERE m.model = '$model'}),
		"$expect{$t}{k}|$expect{$t}{features}|$expect{$t}{n}|$expect{$t}{n}|0|0",
		"$what: '$model' is one complete model trained on $t");
}

sub waits_for_training_lock
{
	my ($pid) = @_;
	return $node->poll_query_until(
		'postgres', qq{
		SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $pid AND locktype = 'advisory'
		               AND classid = 17997 AND NOT granted)});
}

$node->safe_psql('postgres', train('a', 'dup'));
is_complete_model_of('dup', 'a', 'initially');

# 1. Session A trains 'dup' from b and keeps its transaction open; session
# B starts training 'dup' from c, also in a transaction, and must wait.
my $sa = $node->background_psql('postgres');
my $sb = $node->background_psql('postgres', on_error_stop => 0);
my $pid_b = $sb->query_safe('SELECT pg_backend_pid()');
$sa->query_safe("SET client_min_messages = warning; BEGIN; " . train('b', 'dup'));
$sb->query_safe("SET client_min_messages = warning");
$sb->query_until(qr/B STARTED/, "\\echo B STARTED\nBEGIN;\n" . train('c', 'dup') . ";\n\\echo B TRAINED\n");
ok(waits_for_training_lock($pid_b), 'B waits for the advisory lock A holds');
is_complete_model_of('dup', 'a', 'while A is uncommitted and B waits');

# A model of another name trains meanwhile without waiting.
is($node->safe_psql('postgres', train('a', 'other')), '2667', 'a different model trains while A holds its lock');

# A commits: B gets the lock, trains and writes, but does not commit yet;
# readers see A's model whole.
$sa->query_safe('COMMIT');
pump_until($sb->{run}, $sb->{timeout}, \$sb->{stdout}, qr/B TRAINED/);
is($sb->{stderr}, '', 'B trained without error once A committed');
is_complete_model_of('dup', 'b', 'after A committed, B uncommitted');

# B commits: readers see B's model whole.
$sb->{stdout} = '';
$sb->query_safe('COMMIT');
is_complete_model_of('dup', 'c', 'after B committed');

# 2. Two trainings of a new model started at the same moment, no
# transaction held open: both succeed, one after the other (without the
# lock the later one's INSERT would collide with the earlier one's row: a
# duplicate key error), and what stays is one complete model, whichever
# committed last.
my @sessions = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 2;
$_->query_safe('SET client_min_messages = warning') for @sessions;
$sessions[0]->query_until(qr/GO/, "\\echo GO\n" . train('b', 'race') . ";\n\\echo DONE\n");
$sessions[1]->query_until(qr/GO/, "\\echo GO\n" . train('c', 'race') . ";\n\\echo DONE\n");
for my $s (@sessions)
{
	pump_until($s->{run}, $s->{timeout}, \$s->{stdout}, qr/DONE/);
	is($s->{stderr}, '', 'simultaneous training finished without error');
	$s->quit;
}
my $k = $node->safe_psql('postgres', q{SELECT k FROM fm_model WHERE model = 'race'});
is_complete_model_of('race', $k == 6 ? 'b' : 'c', 'after two simultaneous trainings');

# 3. REPEATABLE READ: B's snapshot predates A's commit, so after waiting B
# cannot delete a model row it does not see as deleted; it fails with a
# serialization error (retry it) and A's model stays whole.
$sa = $node->background_psql('postgres');
$sb = $node->background_psql('postgres', on_error_stop => 0);
$pid_b = $sb->query_safe('SELECT pg_backend_pid()');
$sa->query_safe("SET client_min_messages = warning; BEGIN; " . train('a', 'dup'));
$sb->query_safe("\\set VERBOSITY verbose\nSET client_min_messages = warning; "
	  . "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM fm_model");
$sb->query_until(qr/B STARTED/, "\\echo B STARTED\n" . train('b', 'dup') . ";\n\\echo B DONE\n");
ok(waits_for_training_lock($pid_b), 'B (repeatable read) waits for the advisory lock');
$sa->query_safe('COMMIT');
pump_until($sb->{run}, $sb->{timeout}, \$sb->{stdout}, qr/B DONE/);
like($sb->{stderr}, qr/ERROR:\s+40001: could not serialize access due to concurrent delete/,
	'B fails with 40001 after A committed');
$sb->quit;
$sa->quit;
is_complete_model_of('dup', 'a', 'after the serialization failure');

# 4. The same for a model that did not exist yet: B's snapshot cannot see
# the row A committed, so B's INSERT conflicts with an invisible row: also
# a serialization failure (40001), not a duplicate key (23505) that a
# client's retry logic would not recognise.
$sa = $node->background_psql('postgres');
$sb = $node->background_psql('postgres', on_error_stop => 0);
$pid_b = $sb->query_safe('SELECT pg_backend_pid()');
$sa->query_safe("SET client_min_messages = warning; BEGIN; " . train('a', 'fresh'));
$sb->query_safe("\\set VERBOSITY verbose\nSET client_min_messages = warning; "
	  . "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM fm_model");
$sb->query_until(qr/B STARTED/, "\\echo B STARTED\n" . train('b', 'fresh') . ";\n\\echo B DONE\n");
ok(waits_for_training_lock($pid_b), 'B (repeatable read) waits to train the new model');
$sa->query_safe('COMMIT');
pump_until($sb->{run}, $sb->{timeout}, \$sb->{stdout}, qr/B DONE/);
like($sb->{stderr}, qr/ERROR:\s+40001: could not serialize access/,
	'B fails with 40001 (not 23505) after A committed the new model');
$sb->quit;
$sa->quit;
is_complete_model_of('fresh', 'a', 'after the serialization failure on a new model');

is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'}),
	'0', 'no advisory lock left behind');

$node->stop;
done_testing();
