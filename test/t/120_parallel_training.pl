
# Parallel training (fmrec.max_parallel_workers_per_training), sgd (Hogwild
# epochs) and ials (sweeps whose participants wait for each other in a
# barrier): a cancel of the leader, and a SIGKILL of one of its parallel
# workers, end the training with nothing written; no worker and no dynamic shared memory
# segment is left behind; after the SIGKILL the postmaster restarts the
# cluster, which then trains in parallel again.  Dynamic shared memory is
# of type mmap here so that the segments are files of this cluster
# (pg_dynshmem/), not of /dev/shm, which other clusters share.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use FmrecTest;

my $node = fmrec_node(
	'parallel',
	conf => [
		'restart_after_crash = on', 'log_statement = none',
		'dynamic_shared_memory_type = mmap', 'max_worker_processes = 16',
		'max_parallel_workers = 8', 'max_parallel_maintenance_workers = 2'
	]);
$node->safe_psql('postgres', make_ratings('ratings', 400, 300, 2));
# 300,000 rows: epochs of about a second, so that a worker lives long
# enough to be found and killed (workers are launched for every epoch)
$node->safe_psql('postgres', make_ratings('big', 2000, 600, 2));
# the catalogue of ials: an id and a genre per item (the genres span the
# sweep's blocks: their steps go through the barrier)
$node->safe_psql('postgres', 'CREATE TABLE big_items AS SELECT DISTINCT item_id, genre FROM big');
my %long_training = (
	sgd => train_sql('big', 'm', k => 64, epochs => 100000),
	ials => "SELECT rows_used FROM fm_train_from_table('big', 'rating', "
	  . "ARRAY['user_id', 'item_id', 'genre'], 'm', method => 'ials', k => 64, epochs => 100000, "
	  . "item_features => ARRAY['item_id', 'genre'], items => 'big_items')");
$node->safe_psql('postgres', train_sql('ratings', 'm', k => 8, epochs => 3));
my $predict = q{SELECT fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY['7', '12'])};
my %before = (
	m => model_state($node, 'postgres', 'm'),
	predict => $node->safe_psql('postgres', $predict));
my $dsm_dir = $node->data_dir . '/pg_dynshmem';

sub dsm_segments
{
	opendir(my $dh, $dsm_dir) or return 0;
	my @files = grep { /^mmap\./ } readdir($dh);
	closedir($dh);
	return scalar(@files);
}
my $segments_before = dsm_segments();

sub workers_of
{
	my ($pid) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND leader_pid = $pid"
	);
}

# Starts a parallel training (sgd or ials) that runs until stopped; returns
# (session, leader pid) once its first epoch is done and a worker of it is seen.
sub start_parallel_training
{
	my ($method) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_safe("\\set VERBOSITY verbose\nSET client_min_messages = notice;\n"
		  . "SET fmrec.max_parallel_workers_per_training = 2;\nSET statement_timeout = '300s'");
	$bg->query_until(qr/TRAINING STARTED/,
		    "\\echo TRAINING STARTED\n"
		  . $long_training{$method}
		  . ";\n\\echo TRAINING DONE\n");
	ok(pump_until($bg->{run}, $bg->{timeout}, \$bg->{stderr}, qr/epoch 1\/100000/),
		"parallel $method training started its epochs");
	# workers are launched for every epoch: one is there most of the time
	ok($node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND leader_pid = $pid"),
		'a parallel worker of the training is in pg_stat_activity');
	return ($bg, $pid);
}

sub check_model_intact
{
	my ($what) = @_;
	is(model_state($node, 'postgres', 'm'), $before{m}, "$what: model m unchanged (trained_at, k, rows, bits)");
	is($node->safe_psql('postgres', $predict), $before{predict}, "$what: fm_predict returns the same value");
}

# 1 and 2 for each method.
for my $method ('sgd', 'ials')
{
	# 1. Cancel of the leader.
	my ($bg, $pid) = start_parallel_training($method);
	cmp_ok(dsm_segments(), '>', $segments_before, "$method: the training has a dynamic shared memory segment");
	is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', "$method: cancel sent to the leader");
	pump_until($bg->{run}, $bg->{timeout}, \$bg->{stdout}, qr/TRAINING DONE/);
	like($bg->{stderr}, qr/ERROR:\s+57014: canceling statement due to user request/, "$method, cancel: ERROR 57014");
	$bg->quit;
	check_model_intact("$method, cancel");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'parallel worker'"),
		"$method, cancel: no parallel worker left");
	is(dsm_segments(), $segments_before, "$method, cancel: no dynamic shared memory segment left");

	# 2. SIGKILL of a worker: the postmaster resets every process.
	($bg, $pid) = start_parallel_training($method);
	# Workers are launched per epoch: between two epochs there is none, so ask
	# again until one runs.  (A worker that ended with its epoch between the
	# query and the kill would make the test time out below, not pass.)
	my $worker = '';
	for (my $attempt = 0; $worker eq '' && $attempt < 600; $attempt++)
	{
		$worker = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND leader_pid = $pid LIMIT 1");
		Time::HiRes::usleep(50_000) if $worker eq '';
	}
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $worker), 1, "$method: SIGKILL sent to parallel worker $worker");
	eval { $bg->quit };
	ok($node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset),
		"$method: the postmaster reset all processes");
	ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
		"$method: crash recovery done: the server accepts connections again");
	check_model_intact("$method, SIGKILL of a worker");
	is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'"),
		'0', "$method, SIGKILL: no parallel worker left");
	# (the crash restart may also remove segments that existed before: at most as many)
	cmp_ok(dsm_segments(), '<=', $segments_before, "$method, SIGKILL: no dynamic shared memory segment left");
}

# 3. The restarted server trains in parallel again, sgd, als and ials.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET fmrec.max_parallel_workers_per_training = 2;\n"
	  . train_sql('ratings', 'm', k => 8, epochs => 3) . ";\n"
	  . "SELECT rows_used FROM fm_train_from_table('ratings', 'rating', ARRAY['user_id', 'item_id'], 'a', "
	  . "method => 'als', k => 4, epochs => 2);\n"
	  . "SELECT rows_used FROM fm_train_from_table('big', 'rating', ARRAY['user_id', 'item_id', 'genre'], 'i', "
	  . "method => 'ials', k => 4, epochs => 2, item_features => ARRAY['item_id', 'genre'], items => 'big_items')");
is($ret, 0, 'after the restart: parallel sgd, als and ials trainings succeed');
like($stderr, qr/model "m": trained with [12] parallel workers/, '... sgd with parallel workers');
like($stderr, qr/model "a": trained with [12] parallel workers/, '... als with parallel workers');
like($stderr, qr/model "i": trained with [12] parallel workers/, '... ials with parallel workers');
isnt(model_state($node, 'postgres', 'm'), $before{m}, '... and model m is the new one');
is(dsm_segments(), $segments_before, 'no dynamic shared memory segment left after them');

$node->stop;
done_testing();
