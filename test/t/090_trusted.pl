
# fmrec is not a trusted extension (test/t/README.md, "Trusted?"): only a
# superuser creates, updates or drops it.  Once a superuser installed it,
# any role may use the type and the scoring functions, but reads and
# writes models only with the GRANTs on fm_model and fm_feature documented
# in "Security".
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('trusted', no_extension => 1);

is( $node->safe_psql(
		'postgres', q{SELECT bool_or(trusted) FROM pg_available_extension_versions WHERE name = 'fmrec'}),
	'f', 'no version of fmrec is marked trusted');

# A role that owns a database and may create schemas in it: enough for a
# trusted extension, not for this one.
$node->safe_psql(
	'postgres', q{
	CREATE ROLE app LOGIN;
	CREATE DATABASE appdb OWNER app;
	CREATE ROLE analyst LOGIN;
});
$node->safe_psql('appdb', 'GRANT CREATE ON SCHEMA public TO app');

my $as_app = "SET ROLE app;\n";
is(psql_error($node, 'appdb', $as_app . 'CREATE EXTENSION fmrec'),
	'42501: permission denied to create extension "fmrec"',
	'the database owner cannot create fmrec: 42501');
my (undef, undef, $stderr) = $node->psql('appdb', $as_app . 'CREATE EXTENSION fmrec');
like($stderr, qr/HINT:\s+Must be superuser to create this extension/, 'the hint says a superuser must');

# The superuser installs it; then what others can do.
$node->safe_psql('appdb', 'CREATE EXTENSION fmrec');
$node->safe_psql('appdb', make_ratings('ratings', 60, 40, 3));
$node->safe_psql('appdb', train_sql('ratings', 'm', k => 4, epochs => 2));
$node->safe_psql('appdb', 'GRANT SELECT ON ratings TO app, analyst');

my $as_analyst = "SET ROLE analyst;\n";
is( $node->safe_psql(
		'appdb', $as_analyst
		  . q{SELECT fm_score('[1,2]', '[3,4]', 0.5), fm_dims('[1,2,3]'), fm_sum(v) FROM (VALUES ('[1,1]'::fm_vector), ('[2,3]')) t(v)}),
	'11.5|3|[3,4]', 'any role uses the type, the scoring functions and the aggregates');
is(psql_error($node, 'appdb', $as_analyst . q{SELECT fm_predict('m', ARRAY['user_id'], ARRAY['1'])}),
	'42501: permission denied for table fm_model', 'but reads no model without SELECT on the model tables');
is(psql_error($node, 'appdb', $as_analyst . q{SELECT * FROM fm_feature}),
	'42501: permission denied for table fm_feature', '... nor fm_feature');
is(psql_error($node, 'appdb', $as_analyst . train_sql('ratings', 'x')),
	'42501: permission denied for table fm_model', 'and trains nothing without the write GRANTs');
is(psql_error($node, 'appdb', $as_analyst . q{SELECT fm_drop_model('m')}),
	'42501: permission denied for table fm_model', 'and drops no model');

# The documented GRANTs: serving for analyst, training for app.
$node->safe_psql(
	'appdb', q{
	GRANT SELECT ON fm_model, fm_feature TO analyst;
	GRANT SELECT, INSERT, DELETE ON fm_model TO app;
	GRANT SELECT, INSERT ON fm_feature TO app;
});
like($node->safe_psql('appdb', $as_analyst . q{SELECT fm_predict('m', ARRAY['user_id'], ARRAY['1'])}),
	qr/^[0-9.]+$/, 'with SELECT on both tables a role serves predictions');
is(psql_error($node, 'appdb', $as_analyst . train_sql('ratings', 'x')),
	'42501: permission denied for table fm_model', '... and still cannot train');
is($node->safe_psql('appdb', $as_app . 'SET client_min_messages = warning; ' . train_sql('ratings', 'm', k => 2)),
	'800', 'with the write GRANTs a role trains, replacing a model');

# The extension itself stays the superuser's: no other role alters,
# updates or drops it, or changes its tables.
is(psql_error($node, 'appdb', $as_app . 'DROP EXTENSION fmrec'),
	'42501: must be owner of extension fmrec', 'the database owner cannot drop the extension');
is(psql_error($node, 'appdb', $as_app . 'ALTER EXTENSION fmrec UPDATE'),
	'42501: must be owner of extension fmrec', '... nor update it');
is(psql_error($node, 'appdb', $as_app . 'ALTER TABLE fm_model ADD COLUMN owner text'),
	'42501: must be owner of table fm_model', '... nor alter its tables');
is(psql_error($node, 'appdb', $as_app . 'TRUNCATE fm_feature'),
	'42501: permission denied for table fm_feature', '... nor truncate them');

$node->stop;
done_testing();
