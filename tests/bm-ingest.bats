#!/usr/bin/env bats
# bm-ingest: validation messages, catalog upsert, the case matrix.
load helper

setup() {
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG
	cd "$BATS_TEST_TMPDIR"
	IN="$FIX/ingest"
}

@test "bm-ingest --version" {
	run --separate-stderr bm-ingest --version
	[ "$status" -eq 0 ]
	[ "$output" = "bm-ingest 0.1.0" ]
	[ "$stderr" = "" ]
}

@test "bm-ingest: the case matrix of valid files, with the summary" {
	run --separate-stderr bm-ingest --no-db -m echo: -m echo:b "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 18 cases" ]
	[ "$(printf '%s\n' "$output" | jq -s 'map(.case_id) | unique | length')" = 18 ]
	# sum-two-numbers: 2 trials x 2 models x repeat 2
	[ "$(printf '%s\n' "$output" | jq -s '[.[] | select(.benchmark == "sum-two-numbers")] | length')" = 8 ]
	first=$(printf '%s\n' "$output" | head -1)
	[ "$(jq -c '.messages' <<<"$first")" = '[{"role":"system","content":"You are a careful calculator."},{"role":"user","content":"What is 2 + 2? Answer with the number only."}]' ]
	[ "$(jq -c '[.variant, .trial, .repeat, .model, .expect]' <<<"$first")" = '[null,0,0,"echo:",[{"equals":"4"},{"regex":"^\\d+(\\.\\d+)?$"}]]' ]
	# a float var renders as YAML wrote it
	[ "$(printf '%s\n' "$output" | jq -r 'select(.benchmark == "sum-two-numbers" and .trial == 1) | .messages[1].content' | head -1)" = "What is 10 + 5.5? Answer with the number only." ]
}

@test "bm-ingest: variants x trials x models x repeat" {
	run --separate-stderr bm-ingest --no-db -m echo: -m echo:x -m echo:y --repeat 3 --name code-review "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 18 cases" ]
	[ "$(printf '%s\n' "$output" | jq -s 'group_by(.variant) | map([.[0].variant, length])' -c)" = '[["baseline",9],["tools",9]]' ]
	[ "$(printf '%s\n' "$output" | jq -r 'select(.variant == "tools") | .params.temperature' | sort -u)" = 0.5 ]
}

@test "bm-ingest: a sequence has steps, not messages" {
	run --separate-stderr bm-ingest --no-db -m echo: --name lighthouse-story "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 1 case" ]
	[ "$(jq -c '[.system, (.steps | length), .steps[1].expect[0].judge.model, has("messages")]' <<<"$output")" = '[null,2,"judge",false]' ]
}

@test "bm-ingest: --tag selects any of the tags" {
	run --separate-stderr bm-ingest --no-db -m echo: --tag writing --tag code --list "$IN/good"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r .name | tr '\n' ' ')" = "code-review lighthouse-story " ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid" ]
}

@test "bm-ingest: a second document is named <stem>-2" {
	run --separate-stderr bm-ingest --no-db --list "$IN/good/pair.yaml"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 2 valid benchmarks, 0 invalid" ]
	[ "$(printf '%s\n' "$output" | jq -c '[.name, .doc]' | tr '\n' ' ')" = '["pair",0] ["pair-2",1] ' ]
}

check_bad() {
	run --separate-stderr bm-ingest --no-db --check "$IN/bad/$1"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
}

@test "bm-ingest: unknown keys, all of them, with did-you-mean" {
	check_bad unknown-key.yml
	[ "$stderr" = "bm-ingest: $IN/bad/unknown-key.yml:2:1: unknown key 'promt' (did you mean 'prompt'?)
bm-ingest: $IN/bad/unknown-key.yml:4:1: unknown key 'tagz' (did you mean 'tags'?)
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: wrong types" {
	check_bad types.yml
	[ "$stderr" = "bm-ingest: $IN/bad/types.yml:1:7: name: expected a slug ([a-z0-9][a-z0-9._-]*)
bm-ingest: $IN/bad/types.yml:4:7: tags: expected a list of strings
bm-ingest: $IN/bad/types.yml:2:9: prompt: expected a string
bm-ingest: $IN/bad/types.yml:3:9: repeat: expected a whole number from 1 to 1000000
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: a placeholder that names no var of a trial" {
	check_bad placeholder.yml
	[ "$stderr" = "bm-ingest: $IN/bad/placeholder.yml:1:9: placeholder {{b}} names no var of trial 1
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: assertions are compiled: regex, jq, unknown type" {
	check_bad bad-regex.yml
	[ "$stderr" = "bm-ingest: $IN/bad/bad-regex.yml:3:12: regex: missing closing parenthesis at offset 4
bm-ingest: $IN/bad/bad-regex.yml:4:9: jq: syntax error, unexpected '|'
bm-ingest: $IN/bad/bad-regex.yml:5:5: unknown assertion 'regx' (did you mean 'regex'?)
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: empty file, binary data, YAML syntax, unreadable file" {
	check_bad empty.yml
	[ "$stderr" = "bm-ingest: $IN/bad/empty.yml:1:1: empty file
bm-ingest: 0 valid benchmarks, 1 invalid" ]
	check_bad binary.yml
	[ "$stderr" = "bm-ingest: $IN/bad/binary.yml:2:1: binary data (NUL byte), not YAML
bm-ingest: 0 valid benchmarks, 1 invalid" ]
	check_bad syntax.yml
	[ "$stderr" = "bm-ingest: $IN/bad/syntax.yml:2:1: found unexpected end of stream while scanning a quoted scalar started at 1:9
bm-ingest: 0 valid benchmarks, 1 invalid" ]
	run --separate-stderr bm-ingest --no-db --check nonexistent.yml
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: nonexistent.yml: No such file or directory
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: a duplicate prompt names both files" {
	run --separate-stderr bm-ingest --no-db --check "$IN/good/pair.yaml" "$IN/bad/dup.yml"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: $IN/bad/dup.yml:2:1: duplicate prompt: same benchmark id 9a0bfa1e6f95c9c69451eff68cd38846 as $IN/good/pair.yaml:1:1
bm-ingest: 2 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: invalid documents are skipped, valid ones emitted, stdout stays JSON lines" {
	run --separate-stderr bm-ingest -m echo: "$IN"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: $IN/bad/bad-regex.yml:3:12: regex: missing closing parenthesis at offset 4
bm-ingest: $IN/bad/bad-regex.yml:4:9: jq: syntax error, unexpected '|'
bm-ingest: $IN/bad/bad-regex.yml:5:5: unknown assertion 'regx' (did you mean 'regex'?)
bm-ingest: $IN/bad/binary.yml:2:1: binary data (NUL byte), not YAML
bm-ingest: $IN/bad/empty.yml:1:1: empty file
bm-ingest: $IN/bad/placeholder.yml:1:9: placeholder {{b}} names no var of trial 1
bm-ingest: $IN/bad/syntax.yml:2:1: found unexpected end of stream while scanning a quoted scalar started at 1:9
bm-ingest: $IN/bad/types.yml:1:7: name: expected a slug ([a-z0-9][a-z0-9._-]*)
bm-ingest: $IN/bad/types.yml:4:7: tags: expected a list of strings
bm-ingest: $IN/bad/types.yml:2:9: prompt: expected a string
bm-ingest: $IN/bad/types.yml:3:9: repeat: expected a whole number from 1 to 1000000
bm-ingest: $IN/bad/unknown-key.yml:2:1: unknown key 'promt' (did you mean 'prompt'?)
bm-ingest: $IN/bad/unknown-key.yml:4:1: unknown key 'tagz' (did you mean 'tags'?)
bm-ingest: $IN/good/pair.yaml:1:1: duplicate prompt: same benchmark id 9a0bfa1e6f95c9c69451eff68cd38846 as $IN/bad/dup.yml:2:1
bm-ingest: 5 valid benchmarks (5 new, 0 updated, 0 unchanged), 8 invalid; 9 cases" ]
	[ "$(printf '%s\n' "$stderr" | tail -1)" = "bm-ingest: 5 valid benchmarks (5 new, 0 updated, 0 unchanged), 8 invalid; 9 cases" ]
	printf '%s\n' "$output" | jq -e -s 'length == 9 and all(.type == "case")' >/dev/null
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmarks')" = 5 ]
}

@test "bm-ingest: documents from stdin" {
	run --separate-stderr bm-ingest --no-db -m echo: - < "$IN/good/pair.yaml"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 2 valid benchmarks, 0 invalid; 2 cases" ]
	[ "$(printf '%s\n' "$output" | jq -r .benchmark | tr '\n' ' ')" = "stdin stdin-2 " ]
	run --separate-stderr bm-ingest --no-db --check - <<<'promt: x'
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: <stdin>:1:1: unknown key 'promt' (did you mean 'prompt'?)
bm-ingest: <stdin>:1:1: no prompt: give prompt, sequence or variants
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: an unchanged re-ingest writes nothing; an edit adds a version" {
	cp -r "$IN/good" b
	run --separate-stderr bm-ingest -m echo: b
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks (5 new, 0 updated, 0 unchanged), 0 invalid; 9 cases" ]
	before=$(sqlite3 "$BM_DB" 'select id, updated_at, content_sha256 from benchmarks order by id')
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmark_versions')" = 5 ]
	# A rewrite would now show in updated_at (milliseconds): let one pass.
	t=$(date +%s%3N)
	until [ "$(date +%s%3N)" != "$t" ]; do :; done
	run --separate-stderr bm-ingest -m echo: b
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks (0 new, 0 updated, 5 unchanged), 0 invalid; 9 cases" ]
	[ "$(sqlite3 "$BM_DB" 'select id, updated_at, content_sha256 from benchmarks order by id')" = "$before" ]
	sed -i 's/Adds two numbers/Adds numbers/' b/math.yml
	run --separate-stderr bm-ingest -m echo: b
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks (0 new, 1 updated, 4 unchanged), 0 invalid; 9 cases" ]
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmark_versions where benchmark_id = '3e2d8e9ef3e75018c95ff0ae1f843fd6'")" = 2 ]
	[ "$(sqlite3 "$BM_DB" "select description from benchmarks where name = 'sum-two-numbers'")" = "Adds numbers" ]
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmarks where updated_at != created_at")" = 1 ]
}

@test "bm-ingest: an unchanged file comes from the catalog, with the same cases" {
	cp -r "$IN/good" b
	bm-ingest -m echo: -m echo:x --repeat 2 b > first 2>/dev/null
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmarks where tree is null or doc is null")" = 0 ]
	run --separate-stderr bm-ingest -m echo: -m echo:x --repeat 2 b
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat first)" ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks (0 new, 0 updated, 5 unchanged), 0 invalid; 28 cases" ]
	run --separate-stderr bm-ingest --list b
	[ "$stderr" = "bm-ingest: 5 valid benchmarks (0 new, 0 updated, 5 unchanged), 0 invalid" ]
	[ "$output" = "$(bm-ingest --no-db --list b 2>/dev/null)" ]
	# a new file with a stored prompt names the stored one's place
	sed 's/^description: .*/description: again/' b/math.yml > b/plus.yml
	run --separate-stderr bm-ingest -m echo: b
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: b/plus.yml:5:1: duplicate prompt: same benchmark id 3e2d8e9ef3e75018c95ff0ae1f843fd6 as b/math.yml:5:1
bm-ingest: 5 valid benchmarks (0 new, 0 updated, 5 unchanged), 1 invalid; 9 cases" ]
}

@test "bm-ingest: a stored benchmark's problems still name file:line:col" {
	printf 'prompt: hi\nmodels: [judge]\n' > m.yml
	printf 'models:\n  judge: {provider: echo, model: judge}\n' > bm.yml
	run --separate-stderr bm-ingest m.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 1 valid benchmark (1 new, 0 updated, 0 unchanged), 0 invalid; 1 case" ]
	printf 'models:\n  jduge: {provider: echo, model: judge}\n' > bm.yml
	run --separate-stderr bm-ingest m.yml
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: m.yml:2:10: models: unknown model 'judge' (did you mean 'jduge'?)
bm-ingest: 0 valid benchmarks (0 new, 0 updated, 0 unchanged), 1 invalid; 0 cases" ]
}

@test "bm-ingest: a moved document keeps its version and gets its new place" {
	printf 'prompt: one\n---\nprompt: two\n' > a.yml
	bm-ingest --list a.yml >/dev/null 2>&1
	printf 'prompt: zero\n---\nprompt: one\n---\nprompt: two\n' > a.yml
	run --separate-stderr bm-ingest --list a.yml
	[ "$stderr" = "bm-ingest: 3 valid benchmarks (1 new, 0 updated, 2 unchanged), 0 invalid" ]
	# --from-db gives one file's documents in their order in the file
	run --separate-stderr bm-ingest --list --from-db
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 3 valid benchmarks, 0 invalid" ]
	[ "$(jq -r '[.doc, .name] | @tsv' <<<"$output")" = "0	a
1	a-2
2	a-3" ]
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmark_versions')" = 3 ]
	mv a.yml c.yml
	run --separate-stderr bm-ingest --list c.yml
	[ "$stderr" = "bm-ingest: 3 valid benchmarks (0 new, 0 updated, 3 unchanged), 0 invalid" ]
	[ "$(sqlite3 "$BM_DB" 'select group_concat(path || ":" || doc || ":" || name, " ") from (select * from benchmarks order by doc)')" = "c.yml:0:c c.yml:1:c-2 c.yml:2:c-3" ]
}

@test "bm-ingest: shards are disjoint and complete" {
	bm-ingest --no-db -m echo: -m echo:a -m echo:b --repeat 5 "$IN/good" 2>/dev/null | jq -r .case_id | sort > all
	[ "$(wc -l < all)" = 105 ]
	for k in 1 2 3; do
		run --separate-stderr bm-ingest --no-db -m echo: -m echo:a -m echo:b --repeat 5 --shard $k/3 "$IN/good"
		[ "$status" -eq 0 ]
		[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; ${#lines[@]} cases" ]
		printf '%s\n' "$output" | jq -r .case_id > shard$k
		# the rule of DESIGN.md §10
		while read -r id; do [ $(( 16#${id:0:8} % 3 )) -eq $((k - 1)) ]; done < shard$k
	done
	[ "$(sort shard1 shard2 shard3 | uniq -d)" = "" ]
	[ "$(sort shard1 shard2 shard3)" = "$(cat all)" ]
	run --separate-stderr bm-ingest --no-db -m echo: --shard 0/3 "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: --shard: invalid shard '0/3' (want K/N with 1 <= K <= N)" ]
	run --separate-stderr bm-ingest --no-db -m echo: --shard 4/3 "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: --shard: invalid shard '4/3' (want K/N with 1 <= K <= N)" ]
}

@test "bm-ingest --from-db equals reading the files" {
	bm-ingest -m echo: "$IN/good" > files.jsonl 2>/dev/null
	run --separate-stderr bm-ingest --from-db -m echo:
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 9 cases" ]
	[ "$output" = "$(cat files.jsonl)" ]
	run --separate-stderr bm-ingest --from-db -m echo: "$IN/good"
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 9 cases" ]
	[ "$output" = "$(cat files.jsonl)" ]
	bm-ingest --list "$IN/good" > list1 2>/dev/null
	bm-ingest --list --from-db > list2 2>/dev/null
	[ "$(cat list1)" = "$(cat list2)" ]
}

@test "bm-ingest: models: -m must resolve, a benchmark needs one" {
	run --separate-stderr bm-ingest --no-db -m nosuch "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: unknown model 'nosuch'" ]
	run --separate-stderr bm-ingest --no-db "$IN/good/story.yml"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: no model: give -m, --profile or --batch, or models: in the benchmarks
bm-ingest: 1 valid benchmark, 0 invalid; 0 cases" ]
	run --separate-stderr bm-ingest --no-db --profile nope "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: unknown profile 'nope'" ]
}

@test "bm-ingest: profiles and batches from bm.yml, models: in a benchmark" {
	cat > bm.yml <<-'YML'
	models:
	  judge: {provider: echo, model: judge}
	profiles:
	  light: {models: ["echo:", judge], repeat: 2}
	batches:
	  quick: {profile: light, repeat: 1, tags: [writing]}
	YML
	run --separate-stderr bm-ingest --no-db --profile light --name sum-two-numbers "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 8 cases" ]
	[ "$(printf '%s\n' "$output" | wc -l)" = 8 ]
	run --separate-stderr bm-ingest --no-db --batch quick "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 2 cases" ]
	[ "$(printf '%s\n' "$output" | jq -r '[.benchmark, .model] | join(" ")' | tr '\n' ',')" = "lighthouse-story echo:,lighthouse-story judge," ]
	run --separate-stderr bm-ingest --no-db --profile ligth "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: unknown profile 'ligth' (did you mean 'light'?)" ]
	printf 'prompt: hi\nmodels: [judge, jugde]\n' > m.yml
	run --separate-stderr bm-ingest --no-db m.yml
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: m.yml:2:17: models: unknown model 'jugde' (did you mean 'judge'?)
bm-ingest: 0 valid benchmarks, 1 invalid; 0 cases" ]
}

@test "bm-ingest: bm.yml's default_profile applies as --profile does" {
	cd "$BM_SRCDIR/examples"
	run --separate-stderr bm-ingest --no-db benchmarks
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 15 valid benchmarks, 0 invalid; 42 cases" ]
	default=$output
	default_err=$stderr
	run --separate-stderr bm-ingest --no-db --profile light benchmarks
	[ "$status" -eq 0 ]
	[ "$output" = "$default" ]
	[ "$stderr" = "$default_err" ]
	# light: models echo: and agent:, repeat 1, only the smoke benchmarks
	[ "$(printf '%s\n' "$output" | jq -sc 'map(.model) | unique')" = '["agent:","echo:"]' ]
	[ "$(printf '%s\n' "$output" | jq -sc 'map(.repeat) | unique')" = '[0]' ]
	[ "$(printf '%s\n' "$output" | jq -sc 'map(.tags | index("smoke") != null) | unique')" = '[true]' ]
	# -m replaces the default profile, tags and all
	run --separate-stderr bm-ingest --no-db -m echo: benchmarks
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 15 valid benchmarks, 0 invalid; 33 cases" ]
	[ "$(printf '%s\n' "$output" | jq -sc 'map(.tags | index("smoke") != null) | unique')" = '[false,true]' ]
}

@test "bm-ingest --check and --no-db never touch the database" {
	run --separate-stderr bm-ingest --check "$IN/good"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid" ]
	[ ! -e "$BM_DB" ]
	run --separate-stderr bm-ingest --no-db -m echo: "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 9 cases" ]
	[ ! -e "$BM_DB" ]
}

@test "bm-ingest: a database that cannot be opened is exit 2" {
	run --separate-stderr bm-ingest --db /nonexistent/dir/bm.db -m echo: "$IN/good"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[[ "$stderr" == "bm-ingest: /nonexistent/dir/bm.db: "* ]]
}

@test "bm-ingest: a write the database refuses is exit 2, nothing of its batch kept" {
	bm-ingest --list "$IN/good/math.yml" >/dev/null 2>&1
	sqlite3 "$BM_DB" "create trigger no_insert before insert on benchmarks
	  begin select raise(abort, 'read-only catalog'); end"
	run --separate-stderr bm-ingest --list "$IN/good"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: $BM_DB: read-only catalog" ]
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmarks')" = 1 ]
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmark_versions')" = 1 ]
}

@test "bm-ingest --backfill fills benchmark_id from stored prompts" {
	bm-ingest --list "$IN/good" >/dev/null 2>&1
	sqlite3 "$BM_DB" "insert into results (run_id, case_id, step, benchmark_id, model, status, record) values
	  ('r1', 'c1', 0, NULL, 'echo:', 'pass', '{\"prompt\":\"What is 7 + 8? Answer with the number only.\"}'),
	  ('r1', 'c2', 0, NULL, 'echo:', 'pass', '{\"messages\":[{\"role\":\"user\",\"content\":\"Second of two documents.\"}]}'),
	  ('r1', 'c3', 0, '', 'echo:', 'pass', '{\"benchmark\":\"code-review\"}'),
	  ('r1', 'c4', 0, NULL, 'echo:', 'pass', '{\"prompt\":\"unknown\"}')"
	run --separate-stderr bm-ingest --backfill
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: backfill: 3 rows filled, 1 not matched" ]
	[ "$(sqlite3 "$BM_DB" "select case_id, benchmark_id from results order by case_id" | tr '\n' ' ')" = "c1|3e2d8e9ef3e75018c95ff0ae1f843fd6 c2|f8e8b9b9a0102279403a1ccd200f8109 c3|83a2d3ed84b3dc46aea175498af1b8d4 c4| " ]
}

@test "bm-ingest: the example benchmarks are valid" {
	[ -d "$BM_SRCDIR/examples/benchmarks" ] || skip "no examples yet"
	run --separate-stderr bm-ingest --no-db --check "$BM_SRCDIR/examples/benchmarks"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "bm-ingest: "*" valid benchmarks, 0 invalid" ]]
}

# Every case printed names a benchmark the catalog holds.
all_stored() {
	printf '%s\n' "$output" | jq -r 'select(.type == "case") | .benchmark_id' | sort -u >printed
	sqlite3 "$BM_DB" 'select id from benchmarks' | sort >stored
	[ -z "$(comm -23 printed stored)" ]
}

# n benchmark files of ~400 bytes under dir many/.
many() {
	mkdir -p many
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) {
	    f = sprintf("many/b%05d.yml", i)
	    printf "prompt: \"question %d %0300d\"\n", i, 0 > f; close(f) } }'
}

teardown() {
	if [ -f "$BATS_TEST_TMPDIR/bm.db" ] && command -v chattr >/dev/null; then
		chattr -i "$BATS_TEST_TMPDIR/bm.db" 2>/dev/null || true
	fi
}

@test "bm-ingest: a read-only database file prints no case, exit 2" {
	bm-ingest --list "$IN/good/math.yml" >/dev/null 2>&1
	chmod 444 "$BM_DB"
	# root writes a mode 0444 file: make it immutable (ext4, xfs, ...)
	if [ "$(id -u)" = 0 ]; then
		chattr +i "$BM_DB" 2>/dev/null || skip "root and no chattr +i here"
	fi
	run --separate-stderr bm-ingest -m echo: "$IN/good/story.yml"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: $BM_DB: attempt to write a readonly database" ]
}

@test "bm-ingest: a write refused later stops the output there, exit 2" {
	many 3000
	bm-ingest --list "$IN/good/math.yml" >/dev/null 2>&1
	sqlite3 "$BM_DB" "create trigger full before insert on benchmarks
	  when new.name = 'b02000' begin select raise(abort, 'disk full'); end"
	run --separate-stderr bm-ingest -m echo: many
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: $BM_DB: disk full" ]
	all_stored
	[ "$(printf '%s\n' "$output" | grep -c '"b02000"')" = 0 ]
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmarks where name between 'b02000' and 'b09999'")" = 0 ]
}

@test "bm-ingest: a full disk: no case printed that is not stored, exit 2" {
	many 3000
	bm-ingest --list "$IN/good/math.yml" >/dev/null 2>&1
	# A file size limit stands in for the full disk: writes past it fail.
	run --separate-stderr bash -c 'ulimit -f 4500; trap "" XFSZ;
	    exec bm-ingest -m echo: many'
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-ingest: $BM_DB: disk I/O error" ]
	all_stored
	[ "$(sqlite3 "$BM_DB" 'select count(*) from benchmarks')" -lt 3001 ]
}

@test "bm-ingest: symbolic link cycles: no endless walk, no false duplicates" {
	mkdir -p t/b
	cp "$IN/good/math.yml" "$IN/good/pair.yaml" t/b/
	ln -s . t/b/x
	ln -s . t/b/y
	run --separate-stderr timeout 60 bm-ingest --no-db -m echo: t
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r .benchmark | sort -u | tr '\n' ' ')" = "pair pair-2 sum-two-numbers " ]
	[ "$stderr" = "bm-ingest: warning: t/b/x: directory cycle (back to t/b), skipped
bm-ingest: warning: t/b/y: directory cycle (back to t/b), skipped
bm-ingest: 3 valid benchmarks, 0 invalid; 6 cases" ]
}

@test "bm-ingest: a FIFO among the files is skipped with a warning; named, an error" {
	mkdir t
	cp "$IN/good/math.yml" t/
	mkfifo t/pipe.yml
	run --separate-stderr timeout 60 bm-ingest --no-db --check t
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: warning: t/pipe.yml: not a regular file, skipped
bm-ingest: 1 valid benchmark, 0 invalid" ]
	run --separate-stderr timeout 60 bm-ingest --no-db --check t/pipe.yml t/math.yml
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: t/pipe.yml: not a regular file
bm-ingest: 1 valid benchmark, 1 invalid" ]
}

@test "bm-ingest: aliases that would copy a long string 10^4 times are an error at the alias" {
	awk 'BEGIN { printf "prompt: hi\nvars:\n  - {x: &a \"%0100000d\"}\n  - {x: [*a", 0
	    for (i = 1; i < 10000; i++) printf ", *a"; print "]}" }' >alias.yml
	run --separate-stderr bm-ingest --no-db -m echo: alias.yml
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: alias.yml:4:678: alias expansion larger than 16777216 bytes
bm-ingest: 0 valid benchmarks, 1 invalid; 0 cases" ]
}

@test "bm-ingest: a NUL in a prompt is an error at its place, never cut; invalid UTF-8 too" {
	printf 'prompt: "before\\u0000after"\n' >nul.yml
	printf 'prompt: "caf\351 au lait"\n' >latin1.yml
	run --separate-stderr bm-ingest --no-db -m echo: nul.yml latin1.yml
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: nul.yml:1:9: NUL character in a string is not supported
bm-ingest: latin1.yml:1:14: invalid UTF-8: bad continuation byte
bm-ingest: 0 valid benchmarks, 2 invalid; 0 cases" ]
}

@test "bm-ingest: no model anywhere is one message, exit 2, and no database" {
	run --separate-stderr bm-ingest "$IN/good/story.yml" "$IN/good/pair.yaml"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: no model: give -m, --profile or --batch, or models: in the benchmarks
bm-ingest: 3 valid benchmarks, 0 invalid; 0 cases" ]
	[ ! -e "$BM_DB" ]
	run --separate-stderr bm-ingest -m echo: nosuch
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: nosuch: No such file or directory
bm-ingest: 0 valid benchmarks, 1 invalid; 0 cases" ]
	[ ! -e "$BM_DB" ]
}

@test "bm-ingest: a --tag, --name or --shard that selects nothing is a warning, exit 1" {
	run --separate-stderr bm-ingest --no-db -m echo: --tag nosuch "$IN/good"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: warning: --tag nosuch: no benchmark selected
bm-ingest: 5 valid benchmarks, 0 invalid; 0 cases" ]
	run --separate-stderr bm-ingest --no-db -m echo: --tag math --name 'code-*' --list "$IN/good"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: warning: --tag math --name code-*: no benchmark selected
bm-ingest: 5 valid benchmarks, 0 invalid" ]
	run --separate-stderr bm-ingest --no-db -m echo: --name pair --shard 2/2 "$IN/good/pair.yaml"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: warning: --shard 2/2: no case selected
bm-ingest: 2 valid benchmarks, 0 invalid; 0 cases" ]
	run --separate-stderr bm-ingest --no-db -m echo: --name pair "$IN/good"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 5 valid benchmarks, 0 invalid; 1 case" ]
}

@test "bm-ingest: a benchmark's models: restricts the models asked for, or supplies them" {
	printf 'prompt: hi\nmodels: ["echo:b"]\n---\nprompt: ho\n' >m.yml
	run --separate-stderr bm-ingest --no-db -m echo:a -m echo:b m.yml
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r '[.benchmark, .model] | join(" ")' | tr '\n' ,)" = "m echo:b,m-2 echo:a,m-2 echo:b," ]
	[ "$stderr" = "bm-ingest: 2 valid benchmarks, 0 invalid; 3 cases" ]
	run --separate-stderr bm-ingest --no-db -m echo:a m.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 2 valid benchmarks, 0 invalid; 1 case" ]
	[ "$(printf '%s\n' "$output" | jq -r '[.benchmark, .model] | join(" ")' | tr '\n' ,)" = "m-2 echo:a," ]
	printf 'prompt: hi\nmodels: ["echo:b"]\n' >one.yml
	run --separate-stderr bm-ingest --no-db one.yml
	[ "$status" -eq 0 ]
	[ "$(jq -r .model <<<"$output")" = "echo:b" ]
	[ "$stderr" = "bm-ingest: 1 valid benchmark, 0 invalid; 1 case" ]
}

@test "bm-ingest: a jq expression that does not compile: no shell quoting hint about a YAML file" {
	printf 'prompt: hi\nexpect:\n  - jq: ". | `"\n' >jq.yml
	run --separate-stderr bm-ingest --no-db --check jq.yml
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: jq.yml:3:9: jq: syntax error, unexpected INVALID_CHARACTER
bm-ingest: 0 valid benchmarks, 1 invalid" ]
}

@test "bm-ingest: each case carries content_sha256, the version that runs" {
	run --separate-stderr bm-ingest --no-db -m echo: "$IN/good/pair.yaml"
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 2 valid benchmarks, 0 invalid; 2 cases" ]
	[ "$(printf '%s\n' "$output" | jq -r .content_sha256 | tr '\n' ' ')" = "$(bm-hash "$IN/good/pair.yaml" | jq -r .content_sha256 | tr '\n' ' ')" ]
}

@test "bm-ingest: a document gone from its path is retired, --from-db skips it, it comes back" {
	mkdir -p b/sub
	cp "$IN/good/math.yml" "$IN/good/pair.yaml" b/
	cp "$IN/good/story.yml" b/sub/
	bm-ingest --list b >/dev/null 2>&1
	# story.yml deleted; pair.yaml's second prompt reworded (a new id)
	rm b/sub/story.yml
	sed -i 's/^prompt: Second of two documents\.$/prompt: Second, reworded./' b/pair.yaml
	grep -q reworded b/pair.yaml
	run --separate-stderr bm-ingest --list b
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 3 valid benchmarks (1 new, 0 updated, 2 unchanged, 2 retired), 0 invalid" ]
	[ "$(sqlite3 "$BM_DB" "select name from benchmarks where retired_at is not null order by name" | tr '\n' ' ')" = "lighthouse-story pair-2 " ]
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmarks")" = 5 ]
	# --from-db: as reading the files
	bm-ingest -m echo: b >files.jsonl 2>/dev/null
	run --separate-stderr bm-ingest --from-db -m echo:
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 3 valid benchmarks, 0 invalid; 6 cases" ]
	[ "$output" = "$(cat files.jsonl)" ]
	# back again: no longer retired
	cp "$IN/good/story.yml" b/sub/
	run --separate-stderr bm-ingest --list b/sub/story.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-ingest: 1 valid benchmark (0 new, 0 updated, 1 unchanged), 0 invalid" ]
	[ "$(sqlite3 "$BM_DB" "select name from benchmarks where retired_at is not null" | tr '\n' ' ')" = "pair-2 " ]
}

@test "bm-ingest: a file with an invalid document retires nothing of it" {
	mkdir b
	cp "$IN/good/pair.yaml" b/
	bm-ingest --list b >/dev/null 2>&1
	printf 'prompt: [broken\n' >>b/pair.yaml
	run --separate-stderr bm-ingest --list b
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-ingest: b/pair.yaml:7:1: duplicate key 'prompt' (first at 4:1)
bm-ingest: b/pair.yaml:8:1: did not find expected ',' or ']' while parsing a flow sequence started at 7:9
bm-ingest: 1 valid benchmark (0 new, 0 updated, 1 unchanged), 2 invalid" ]
	[ "$(sqlite3 "$BM_DB" "select count(*) from benchmarks where retired_at is not null")" = 0 ]
}

@test "bm-ingest --versions writes every stored version, oldest first" {
	printf 'name: v\nprompt: hi\ntags: [one]\n' >v.yml
	bm-ingest --list v.yml >/dev/null 2>&1
	printf 'name: v\nprompt: hi\ntags: [two]\n' >v.yml
	bm-ingest --list v.yml >/dev/null 2>&1
	run --separate-stderr bm-ingest --versions v
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | jq -c '[.type, .name, .path, .tags]' | tr '\n' ' ')" = '["benchmark","v","v.yml",["one"]] ["benchmark","v","v.yml",["two"]] ' ]
	[ "$(printf '%s\n' "$output" | tail -1 | jq -r .content_sha256)" = "$(sha256sum v.yml | cut -c1-64)" ]
	id=$(bm-hash v.yml | jq -r .id)
	run --separate-stderr bm-ingest --versions "$id"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | jq -r .id | sort -u)" = "$id" ]
	run --separate-stderr bm-ingest --versions nosuch
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-ingest: nosuch: no such benchmark" ]
}
