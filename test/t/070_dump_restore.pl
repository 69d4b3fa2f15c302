
# pg_dump / pg_restore into a fresh database: fm_vector columns of user
# tables and the models round-trip bit for bit (the text form of fm_vector
# is exact), fm_model and fm_feature are dumped because the extension
# marks them with pg_extension_config_dump, and the restored models serve
# the same predictions and top-10.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('dump');
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION fmrec');
$node->safe_psql('src', make_ratings('ratings', 150, 120, 3));
$node->safe_psql('src', train_sql('ratings', 'm', k => 8, epochs => 4));
$node->safe_psql('src',
	train_sql('ratings', 'g', k => 3, epochs => 2, features => "ARRAY['user_id', 'item_id', 'genre']"));

# A user table with fm_vector columns: a dimension-checked one holding
# materialised item embeddings, and a free one with awkward values: the
# smallest denormal, -0, the largest float4, values with no short decimal
# form, and NULL.
$node->safe_psql(
	'src', q{
	CREATE TABLE items (item_id text PRIMARY KEY, bias real, embedding fm_vector(8), extra fm_vector);
	INSERT INTO items (item_id, bias, embedding)
	SELECT value, bias, embedding FROM fm_feature WHERE model = 'm' AND feature = 'item_id';
	UPDATE items SET extra = CASE item_id::int % 3
	    WHEN 0 THEN '[1.4e-45,-0,3.4028235e38,-1.1754944e-38]'::fm_vector
	    WHEN 1 THEN fm_vector_from_array(ARRAY[0.1, 1.0/3, -2.0/7]::float8[], -1, false)
	    ELSE NULL END;
});
# The items table is registered with model m (a trigger, see fm_item_tables):
# the registration and the version column round-trip too.
$node->safe_psql('src', q{
	ALTER TABLE items ADD COLUMN v bigint;
	SELECT fm_materialize_items('m', 'items', version_column => 'v');
});

# Everything to compare, as exact bits.
my %queries = (
	models => q{
		SELECT md5(string_agg(row(m.*)::text, '|' ORDER BY m.model COLLATE "C")) FROM fm_model m},
	w0_bits => q{
		SELECT string_agg(model || '=' || encode(float8send(w0), 'hex'), ',' ORDER BY model COLLATE "C") FROM fm_model},
	features => q{
		SELECT count(*) || ':' || md5(string_agg(model || '/' || feature || '/' || value || '/'
		         || encode(float4send(bias), 'hex') || '/' || encode(fm_vector_send(embedding), 'hex'),
		         ',' ORDER BY model COLLATE "C", feature COLLATE "C", value COLLATE "C"))
		  FROM fm_feature},
	items => q{
		SELECT count(*) || ':' || md5(string_agg(item_id || '/' || encode(float4send(bias), 'hex') || '/'
		         || encode(fm_vector_send(embedding), 'hex') || '/'
		         || coalesce(encode(fm_vector_send(extra), 'hex'), 'NULL'), ',' ORDER BY item_id COLLATE "C"))
		  FROM items},
	typmod => q{
		SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		 WHERE attrelid = 'items'::regclass AND attname = 'embedding'},
	predict => q{
		SELECT string_agg(encode(float8send(fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY[u::text, i::text])), 'hex'), ',')
		  FROM generate_series(1, 20) u, generate_series(1, 5) i},
	predict_g => q{
		SELECT encode(float8send(fm_predict('g', ARRAY['user_id', 'item_id', 'genre'], ARRAY['3', '9', 'g2'])), 'hex')},
	top10 => q{
		SELECT string_agg(item_id, ',' ORDER BY s DESC, item_id COLLATE "C") FROM (
		  SELECT item_id, fm_score(fm_query('m', ARRAY['user_id'], ARRAY['5']), embedding, bias) AS s
		    FROM items ORDER BY s DESC, item_id COLLATE "C" LIMIT 10) t},
	registrations => q{
		SELECT string_agg(row(t.*)::text, '|' ORDER BY model COLLATE "C") FROM fm_item_tables t},
	current_items => q{
		SELECT count(*) FROM items WHERE v = fm_model_version('m')},
	# (a restored database must not hand out versions again: item rows
	# stamped with a version would match a different training)
	version_seq => q{SELECT last_value FROM fm_model_version_seq},
	config => q{
		SELECT array_agg(c::regclass::text ORDER BY c::regclass::text)
		  FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'fmrec'});

my %before = map { $_ => $node->safe_psql('src', $queries{$_}) } keys %queries;
is($before{config}, '{fm_feature,fm_model,fm_model_version_seq}',
	'fm_model, fm_feature and the version sequence are extension config relations');
is($before{typmod}, 'fm_vector(8)', 'items.embedding is fm_vector(8)');
is($before{registrations}, '(m,items,item_id,bias,embedding,v)', 'items is registered with model m');
is($before{current_items}, '120', 'every item row carries the version of model m');

my $tempdir = PostgreSQL::Test::Utils::tempdir();
for my $format (qw(custom plain))
{
	my $db = "dst_$format";
	my $file = "$tempdir/src.$format";
	$node->command_ok([ 'pg_dump', '--format', $format, '--file', $file, '--dbname', $node->connstr('src') ],
		"pg_dump --format=$format");
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	# Stop at the first error: a restore that skips failing statements
	# (fm_feature rows before their fm_model rows, say) must fail here.
	if ($format eq 'custom')
	{
		$node->command_ok(
			[ 'pg_restore', '--exit-on-error', '--dbname', $node->connstr($db), $file ],
			'pg_restore into a fresh database');
	}
	else
	{
		$node->command_ok(
			[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file, '-d', $node->connstr($db) ],
			'psql restores the plain dump into a fresh database');
	}
	for my $what (sort keys %queries)
	{
		is($node->safe_psql($db, $queries{$what}), $before{$what}, "$format dump: $what identical after restore");
	}
}

# The restored database trains: the restored model is replaced as usual,
# and since COPY restored the ratings in the same physical order, the
# retrained model is the original bit for bit.
is( $node->safe_psql(
		'dst_custom', train_sql('ratings', 'm', k => 8, epochs => 4) . q{;
		SELECT string_agg(encode(float8send(fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY[u::text, i::text])), 'hex'), ',')
		  FROM generate_series(1, 20) u, generate_series(1, 5) i}),
	"6000\n$before{predict}",
	'retraining in the restored database gives the same model (same rows in the same order, same seed)');

# ... and refreshes the restored registration in the same transaction,
# saying so in one NOTICE
my ($stdout, $stderr);
$node->psql('dst_custom', train_sql('ratings', 'm', k => 8, epochs => 4),
	stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
like($stderr, qr/NOTICE:  model "m": refreshed 120 rows of item table public\.items\n/,
	'the training names the item table it refreshed');
is( $node->safe_psql(
		'dst_custom', q{
		SELECT count(*) FILTER (WHERE i.v = fm_model_version('m')) || '/'
		    || count(*) FILTER (WHERE i.bias IS DISTINCT FROM f.bias OR i.embedding::text IS DISTINCT FROM f.embedding::text)
		  FROM items i, fm_item('m', ARRAY['item_id'], ARRAY[i.item_id]) f}),
	'120/0',
	'the retraining refreshed the restored registered item table (new version, vectors of fm_item)');

$node->stop;
done_testing();
