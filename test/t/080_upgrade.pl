
# ALTER EXTENSION fmrec UPDATE from every released version: for each
# version an upgrade script (fmrec--A--B.sql) mentions, install that
# version, keep a model in it, update to the default version, and require
# the extension's catalog to equal a fresh install's (functions with their
# definitions, types, operators, casts, aggregates, tables with columns,
# constraints and indexes, config-dump marks) and the model to serve as
# before.  The scripts are those installed (make install), like a user's.
#
# Released versions must stay installable for this to be checked: the
# install script of the first release has to ship along with the upgrade
# scripts (the Makefile builds only the current one from src/sql/), or
# the test fails saying which version cannot be installed.
#
# The check was validated by hand with a fake 0.0.9 (the 0.1.0 script
# minus one COMMENT, plus an upgrade script adding it): it passes, and it
# fails on the right object when the upgrade script omits the COMMENT.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FmrecTest;

my $node = fmrec_node('upgrade', no_extension => 1);

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'fmrec'});
ok($default ne '', "fmrec is available, default version $default");
my %installable = map { $_ => 1 } split /\n/,
  $node->safe_psql('postgres', q{SELECT version FROM pg_available_extension_versions WHERE name = 'fmrec'});

my $sharedir = $node->config_data('--sharedir');
my @upgrade_scripts = sort map { s{.*/}{}r } glob("$sharedir/extension/fmrec--*--*.sql");
my %released;
for my $script (@upgrade_scripts)
{
	my ($from, $to) = $script =~ /^fmrec--(.+)--(.+)\.sql$/ or next;
	$released{$from} = 1;
	$released{$to} = 1;
}
delete $released{$default};
note 'upgrade scripts installed: ' . (@upgrade_scripts ? join(', ', @upgrade_scripts) : 'none');

# The extension's catalog, one line per member object with what defines
# it, in a stable order.  OIDs are never printed, only names (the
# foreign key's internal triggers, named after OIDs, are left out: the
# constraint's definition covers them).
my $catalog_sql = q{
	SELECT regexp_replace(line, '\s+', ' ', 'g') FROM (
	WITH members AS (
		SELECT d.classid, d.objid, d.objsubid
		  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
		 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'fmrec')
	SELECT pg_describe_object(classid, objid, objsubid) || ' :: ' || coalesce(CASE classid
		WHEN 'pg_proc'::regclass THEN (
			SELECT CASE WHEN p.prokind = 'a' THEN
			         (SELECT row(a.aggtransfn::regprocedure, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
			                     a.aggdeserialfn, format_type(a.aggtranstype, NULL), a.agginitval,
			                     p.proparallel, p.proacl)::text
			            FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
			       ELSE pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, 'default') END
			  FROM pg_proc p WHERE p.oid = objid)
		WHEN 'pg_type'::regclass THEN (
			SELECT row(t.typlen, t.typbyval, t.typtype, t.typcategory, t.typinput, t.typoutput, t.typreceive,
			           t.typsend, t.typmodin, t.typmodout, t.typanalyze, t.typalign, t.typstorage,
			           t.typrelid::regclass, format_type(t.typelem, NULL), t.typacl)::text
			  FROM pg_type t WHERE t.oid = objid)
		WHEN 'pg_operator'::regclass THEN (
			SELECT row(o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator, o.oprrest, o.oprjoin,
			           o.oprcanmerge, o.oprcanhash)::text
			  FROM pg_operator o WHERE o.oid = objid)
		WHEN 'pg_cast'::regclass THEN (
			SELECT row(c.castfunc::regprocedure, c.castcontext, c.castmethod)::text
			  FROM pg_cast c WHERE c.oid = objid)
		WHEN 'pg_am'::regclass THEN (
			SELECT row(a.amhandler, a.amtype)::text FROM pg_am a WHERE a.oid = objid)
		WHEN 'pg_opclass'::regclass THEN (
			SELECT row((SELECT amname FROM pg_am WHERE oid = c.opcmethod),
			           (SELECT opfname FROM pg_opfamily WHERE oid = c.opcfamily),
			           format_type(c.opcintype, NULL), c.opcdefault, format_type(c.opckeytype, NULL))::text
			  FROM pg_opclass c WHERE c.oid = objid)
		WHEN 'pg_opfamily'::regclass THEN (
			SELECT 'operators: ' || coalesce(string_agg(o.amopstrategy || ' ' || o.amopopr::regoperator
			                                            || ' ' || o.amoppurpose::text, ', '
			                                            ORDER BY o.amopstrategy, o.amopopr::regoperator::text), '')
			  FROM pg_amop o WHERE o.amopfamily = objid)
		  || ' procedures: ' || (
			SELECT coalesce(string_agg(p.amprocnum || ' ' || p.amproc::regprocedure, ', '
			                           ORDER BY p.amprocnum, p.amproc::regprocedure::text), '')
			  FROM pg_amproc p WHERE p.amprocfamily = objid)
		WHEN 'pg_class'::regclass THEN (
			SELECT c.relkind::text || ' acl=' || coalesce(c.relacl::text, 'default') || ' columns: '
			       || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
			                             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
			                             || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
			                             ', ' ORDER BY a.attnum)
			             FROM pg_attribute a
			             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
			       || ' constraints: ' || coalesce((SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)
			                                         FROM pg_constraint WHERE conrelid = c.oid), '')
			       || ' indexes: ' || coalesce((SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY 1)
			                                     FROM pg_index WHERE indrelid = c.oid), '')
			       || ' triggers: ' || coalesce((SELECT string_agg(pg_get_triggerdef(oid), '; ' ORDER BY 1)
			                                      FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal), '')
			  FROM pg_class c WHERE c.oid = objid)
		END, '') || coalesce(' comment: ' || obj_description(objid, classid::regclass::name), '')
	  FROM members
	UNION ALL
	SELECT 'extension :: ' || row(e.extversion, e.extrelocatable, e.extnamespace::regnamespace,
	                              (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text)
	                                 FROM unnest(e.extconfig) c), e.extcondition)::text
	  FROM pg_extension e WHERE e.extname = 'fmrec'
	) s(line) ORDER BY line COLLATE "C"};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION fmrec');
my $fresh = $node->safe_psql('fresh', $catalog_sql);
like($fresh, qr/^function fm_train_from_table\(/m, 'the catalog snapshot lists the functions');
like($fresh, qr/^table fm_feature :: r /m, 'the catalog snapshot lists the tables');

# ALTER EXTENSION UPDATE on the default version changes nothing.
my ($ret, $stdout, $stderr) = $node->psql('fresh', 'ALTER EXTENSION fmrec UPDATE');
is($ret, 0, 'ALTER EXTENSION fmrec UPDATE on the default version succeeds');
like($stderr, qr/version "\Q$default\E" of extension "fmrec" is already installed/, '... as a no-op');
is_deeply([ split /\n/, $node->safe_psql('fresh', $catalog_sql) ], [ split /\n/, $fresh ],
	'... and the catalog is unchanged');

if (!%released)
{
	note "no upgrade scripts: $default is the only version, nothing to upgrade from yet";
}

# Each released version: installable, has a path to the default, and
# updates to exactly a fresh install, keeping its models.
my $n = 0;
for my $version (sort keys %released)
{
	$n++;
	ok($installable{$version},
		"version $version (named by an upgrade script) can be installed: its install script ships")
	  or next;
	is( $node->safe_psql(
			'postgres', qq{SELECT path IS NOT NULL FROM pg_extension_update_paths('fmrec')
			                WHERE source = '$version' AND target = '$default'}),
		't', "there is an update path from $version to $default");
	my $db = "from_$n";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION fmrec VERSION '$version'");
	$node->safe_psql($db, make_ratings('ratings', 60, 40, 3));
	$node->safe_psql($db, train_sql('ratings', 'm', k => 4, epochs => 3));
	my $predict = q{SELECT encode(float8send(fm_predict('m', ARRAY['user_id', 'item_id'], ARRAY['3', '7'])), 'hex')};
	my $before = $node->safe_psql($db, $predict);
	$node->safe_psql($db, 'ALTER EXTENSION fmrec UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'fmrec'}),
		$default, "$version updated to $default");
	# Line by line, so that a failure shows the first differing object.
	is_deeply(
		[ split /\n/, $node->safe_psql($db, $catalog_sql) ],
		[ split /\n/, $fresh ],
		"$version updated: catalog identical to a fresh $default");
	is($node->safe_psql($db, $predict), $before, "$version updated: the model kept serves the same prediction");
}
note "checked $n released version(s) besides $default";

$node->stop;
done_testing();
