
# Training you can watch: another session sees a running training in the
# view fm_training_progress (phase, rows read, epoch advancing, metrics),
# another role sees only its pid and phase; the row is gone after the end,
# after pg_cancel_backend() (the old model intact) and after a SIGKILL of the
# training backend (crash restart).  Without shared_preload_libraries the
# view works on PostgreSQL 17+ (DSM registry) and on 15/16 is empty with a
# WARNING that says why, while trainings run as usual.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('progress', conf => ['restart_after_crash = on', 'log_statement = none']);
$node->safe_psql('postgres', make_ratings('ratings', 400, 300, 2));
$node->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 3));
my $before = model_state($node, 'postgres', 'm');
my $slow = train_sql('ratings', 'm', k => 32, epochs => 100000);

# Starts $sql in a background session with no NOTICEs (100,000 epochs would
# print as many); returns (session, backend pid).
sub start_training
{
	my ($sql) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	chomp $pid;
	$bg->query_safe("\\set VERBOSITY verbose\nSET fmrec.training_notices = 'none'");
	$bg->query_until(qr/TRAINING STARTED/, "\\echo TRAINING STARTED\n$sql;\n\\echo TRAINING DONE\n");
	return ($bg, $pid);
}

sub finish_training
{
	my ($bg) = @_;
	pump_until($bg->{run}, $bg->{timeout}, \$bg->{stdout}, qr/TRAINING DONE/);
	my $stderr = $bg->{stderr};
	$bg->quit;
	return $stderr;
}

sub progress_of
{
	my ($pid, $columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM fm_training_progress WHERE pid = $pid");
}

# 1. Epochs advance, seen from another session.
my ($bg, $pid) = start_training($slow);
ok($node->poll_query_until('postgres', "SELECT epoch >= 1 FROM fm_training_progress WHERE pid = $pid"),
	'another session sees the training reach its first epoch');
is( progress_of(
		$pid, q{datname, usename = current_user, phase, model, method, epochs, rows_read,
		        train_rmse > 0, validation_rmse > 0, train_loss IS NULL, validation_ndcg IS NULL,
		        epoch_seconds >= 0, started_at <= changed_at, changed_at <= clock_timestamp()}),
	'postgres|t|training|m|sgd|100000|60000|t|t|t|t|t|t|t',
	'the row: database, role, phase, model, method, epochs asked for, rows read, metrics, times');
my $epoch = progress_of($pid, 'epoch');
ok($node->poll_query_until('postgres', "SELECT epoch > $epoch FROM fm_training_progress WHERE pid = $pid"),
	"the epoch advances past $epoch");

# 2. Privacy: another role sees pid and phase only, unless pg_read_all_stats.
$node->safe_psql('postgres', 'CREATE ROLE watcher LOGIN');
is( $node->safe_psql(
		'postgres', qq{SELECT pid, datname, usename, phase, model IS NULL, epoch IS NULL, rows_read IS NULL,
		                      validation_rmse IS NULL, started_at IS NULL
		                 FROM fm_training_progress WHERE pid = $pid}, extra_params => ['-U', 'watcher']),
	"$pid|postgres|postgres|training|t|t|t|t|t",
	'another role sees pid, datname, usename and phase, nothing else');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO watcher');
is( $node->safe_psql(
		'postgres', "SELECT model, epochs FROM fm_training_progress WHERE pid = $pid",
		extra_params => ['-U', 'watcher']),
	'm|100000', 'with pg_read_all_stats it sees everything');

# 3. pg_cancel_backend(): the row is gone and the old model intact.
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel sent');
like(finish_training($bg), qr/ERROR:\s+57014: canceling statement due to user request/, 'the training ended in 57014');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fm_training_progress'), '0', 'after the cancel: no row');
is(model_state($node, 'postgres', 'm'), $before, 'after the cancel: model m unchanged');

# 4. The reading phase, with rows advancing, and the writing phase, each
# held at a gate (an advisory lock a gatekeeper holds): the source view
# waits at its 55,000th row (50,000 are read by then, in batches of
# 10,000), the write at one feature row.
$node->safe_psql(
	'postgres', q{
	CREATE SEQUENCE rows_seen;
	CREATE FUNCTION read_gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
	BEGIN
		IF nextval('rows_seen') = 55000 THEN PERFORM pg_advisory_xact_lock_shared(4343); END IF;
		RETURN true;
	END $$;
	CREATE VIEW gated_ratings AS SELECT * FROM ratings WHERE read_gate()});
my $keeper = $node->background_psql('postgres');
$keeper->query_safe('SELECT pg_advisory_lock(4343)');
install_write_gate($node, 'postgres', 'g', '7');
my $write_keeper = close_write_gate($node, 'postgres');
($bg, $pid) = start_training(train_sql('gated_ratings', 'g', k => 4, epochs => 3));
ok( $node->poll_query_until(
		'postgres', qq{SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $pid
		                 AND locktype = 'advisory' AND objid = 4343 AND NOT granted)}),
	'the training waits at the read gate');
is(progress_of($pid, 'phase, model, epoch, epochs, rows_read'), 'reading|g|0|3|50000',
	'phase reading, 50,000 rows read so far');
$keeper->query_safe('SELECT pg_advisory_unlock(4343)');
ok(wait_at_write_gate($node, 'postgres', $pid), 'the training waits at the write gate');
is(progress_of($pid, 'phase, epoch, epochs, rows_read'), 'writing|3|3|60000',
	'phase writing, after its 3 epochs');
$write_keeper->quit;
my $stderr = finish_training($bg);
unlike($stderr, qr/ERROR/, 'the gated training succeeded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fm_training_progress'), '0', 'after the end: no row');
is($node->safe_psql('postgres', q{SELECT jsonb_array_length(history) FROM fm_model WHERE model = 'g'}),
	'3', 'the model keeps its 3 epochs in fm_model.history');
$keeper->quit;

# 5. SIGKILL of the training backend: after the crash restart, no row.
($bg, $pid) = start_training($slow);
ok($node->poll_query_until('postgres', "SELECT epoch >= 1 FROM fm_training_progress WHERE pid = $pid"),
	'a training to kill is running');
my $log_offset = -s $node->logfile;
is(kill('KILL', $pid), 1, "SIGKILL sent to backend $pid");
eval { $bg->quit };
ok($node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset),
	'the postmaster reset all processes');
ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'crash recovery done');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fm_training_progress'), '0', 'after the crash: no row');
is(model_state($node, 'postgres', 'm'), $before, 'after the crash: model m unchanged');
# and the slots work again
($bg, $pid) = start_training($slow);
ok($node->poll_query_until('postgres', "SELECT epoch >= 1 FROM fm_training_progress WHERE pid = $pid"),
	'after the crash restart a training shows again');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
finish_training($bg);
$node->stop;

# 6. Without shared_preload_libraries.
my $plain = fmrec_node('plain', preload => 0);
$plain->safe_psql('postgres', make_ratings('ratings', 60, 50, 2));
my ($ret, $out, $err) = $plain->psql('postgres', 'SELECT count(*) FROM fm_training_progress');
if ($plain->pg_version >= 17)
{
	is($out, '0', 'PostgreSQL 17+ without preload: the view reads (DSM registry)');
	is($err, '', '... without a warning');
	$node = $plain;
	($bg, $pid) = start_training(train_sql('ratings', 'm', k => 32, epochs => 100000));
	ok($plain->poll_query_until('postgres', "SELECT epoch >= 1 FROM fm_training_progress WHERE pid = $pid"),
		'... and shows a running training');
	$plain->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	finish_training($bg);
}
else
{
	is($out, '0', 'PostgreSQL 15/16 without preload: the view is empty');
	like($err, qr/WARNING:  training progress is not available: fmrec is not in shared_preload_libraries/,
		'... with a WARNING that says why');
	like($err, qr/HINT:  Add fmrec to shared_preload_libraries and restart the server/, '... and what to do');
}
is($plain->safe_psql('postgres', train_sql('ratings', 'p', k => 4, epochs => 2)), '1500',
	'without preload a training runs as usual');
is($plain->safe_psql('postgres', q{SELECT jsonb_array_length(history) FROM fm_model WHERE model = 'p'}),
	'2', '... and keeps its history');
$plain->stop;

done_testing();
