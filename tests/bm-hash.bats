#!/usr/bin/env bats
# bm-hash: benchmark ids and versions.
load helper

setup() {
	cd "$FIX/hash"
}

@test "bm-hash: the id is the MD5 of the prompt" {
	run --separate-stderr bm-hash plain.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .id <<<"$output")" = 0c1410da6636525dfbb07871aa041bbf ]
	[ "$(jq -r .id <<<"$output")" = "$(printf '%s' 'What is 2 + 2?' | md5sum | cut -c1-32)" ]
}

@test "bm-hash: a benchmark record has every field of DESIGN.md §4" {
	run --separate-stderr bm-hash plain.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '{"type":"benchmark","id":"0c1410da6636525dfbb07871aa041bbf","name":"plain","path":"plain.yml","doc":0,"content_sha256":"7a2b8ed92b440f5ff0abced8e820345cb03e99dabe4a4886b9adcc540513e747","tags":[],"description":null}' ]
}

@test "bm-hash: a single-document file's version is its sha256sum" {
	run --separate-stderr bm-hash plain.yml
	[ "$stderr" = "" ]
	[ "$(jq -r .content_sha256 <<<"$output")" = "$(sha256sum plain.yml | cut -c1-64)" ]
}

@test "bm-hash: quoted and plain scalars that parse alike give one id" {
	run --separate-stderr bm-hash -t plain.yml quoted.yml dquoted.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  plain.yml
0c1410da6636525dfbb07871aa041bbf  quoted.yml
0c1410da6636525dfbb07871aa041bbf  dquoted.yml" ]
}

@test "bm-hash: a block scalar keeps its trailing newline, |- strips it" {
	run --separate-stderr bm-hash -t block.yml block-strip.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "cce14acb36bfba49bc0a972879e81a47  block.yml
8b1a9953c4611296a827abf8c47804d7  block-strip.yml" ]
}

@test "bm-hash: unicode and emoji are hashed as UTF-8" {
	run --separate-stderr bm-hash emoji.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .id <<<"$output")" = 85d9cdc93decc7e77585f27ecc231df9 ]
	[ "$(jq -c .tags <<<"$output")" = '["intl"]' ]
	[ "$(jq -r .description <<<"$output")" = Unicode ]
}

@test "bm-hash: each document of a file has its own id, name and version" {
	run --separate-stderr bm-hash multi.yaml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r '[.doc, .name, .id] | @tsv' <<<"$output")" = "0	first	f97c5d29941bfb1b2fdab0874906ab82
1	multi-2	b8a9f715dbb64fd5c56e7783c6820a61
2	third	bbab9c310f52665abcd93d13ac0d8dac" ]
	[ "$(jq -r 'select(.doc == 1).content_sha256' <<<"$output")" = ac171a828d1fc1c9b83af81838531622efa04b5dcb8f62004cc97995f9a88907 ]
}

@test "bm-hash: variants join their prompts with 0x1E in written order" {
	run --separate-stderr bm-hash -t variants.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "c495dbc8678c6210e4b50d3dcf7ad561  variants.yml" ]
}

@test "bm-hash: -t names the file's path for every document, as md5sum" {
	run --separate-stderr bm-hash -t multi.yaml
	[ "$status" -eq 0 ]
	[ "$output" = "f97c5d29941bfb1b2fdab0874906ab82  multi.yaml
b8a9f715dbb64fd5c56e7783c6820a61  multi.yaml
bbab9c310f52665abcd93d13ac0d8dac  multi.yaml" ]
	[ "$stderr" = "" ]
	# every second column is a file
	printf '%s\n' "$output" | cut -c35- | xargs ls >/dev/null
}

@test "bm-hash: directories are searched recursively, sorted, hidden files skipped" {
	run --separate-stderr bm-hash -t dir
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "f27f5596d752510b7b1e97e2e1870a45  dir/b.yml
02f0b7a87c3305dbde5a4109c437f0fd  dir/sub/a.yaml" ]
}

@test "bm-hash: reads stdin without arguments" {
	run --separate-stderr bm-hash -t < plain.yml
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  -" ]
}

@test "bm-hash: -p prints the id of a prompt string" {
	run --separate-stderr bm-hash -p 'What is 2 + 2?'
	[ "$status" -eq 0 ]
	[ "$output" = 0c1410da6636525dfbb07871aa041bbf ]
	[ "$stderr" = "" ]
}

@test "bm-hash: -c verifies a list and exits 1 naming what changed" {
	cp plain.yml multi.yaml "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR"
	bm-hash -t plain.yml multi.yaml > ids
	run --separate-stderr bm-hash -c ids
	[ "$status" -eq 0 ]
	[ "$output" = "plain.yml: OK
multi.yaml: OK
multi.yaml: OK
multi.yaml: OK" ]
	[ "$stderr" = "" ]
	sed -i 's/^prompt: two$/prompt: three/' multi.yaml
	run --separate-stderr bm-hash -c ids
	[ "$status" -eq 1 ]
	[ "$output" = "plain.yml: OK
multi.yaml: OK
multi.yaml: FAILED
multi.yaml: OK" ]
	[ "$stderr" = "bm-hash: warning: 1 computed id did not match" ]
}

@test "bm-hash: -c names a missing file" {
	printf '0c1410da6636525dfbb07871aa041bbf  gone.yml\n' > "$BATS_TEST_TMPDIR/ids"
	run --separate-stderr bm-hash -c "$BATS_TEST_TMPDIR/ids"
	[ "$status" -eq 1 ]
	[ "$output" = "gone.yml: FAILED" ]
	[ "$stderr" = "bm-hash: gone.yml: No such file or directory
bm-hash: warning: 1 computed id did not match" ]
}

@test "bm-hash: -c rejects a malformed line" {
	printf 'nonsense\n' > "$BATS_TEST_TMPDIR/ids"
	run --separate-stderr bm-hash -c "$BATS_TEST_TMPDIR/ids"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-hash: $BATS_TEST_TMPDIR/ids:1: improperly formatted line" ]
}

@test "bm-hash: a YAML error names file:line:col, the other files are still hashed" {
	run --separate-stderr bm-hash -t bad.yml plain.yml
	[ "$status" -eq 1 ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  plain.yml" ]
	[ "$stderr" = "bm-hash: bad.yml:3:1: did not find expected ',' or ']' while parsing a flow sequence started at 2:9" ]
}

@test "bm-hash: a duplicate key on stdin is named <stdin>:line:col" {
	run --separate-stderr bm-hash -t <<<$'a: 1\na: 2\nprompt: x'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-hash: <stdin>:2:1: duplicate key 'a' (first at 1:1)" ]
}

@test "bm-hash: a document without a prompt is an error at its position" {
	run --separate-stderr bm-hash noprompt.yml plain.yml
	[ "$status" -eq 1 ]
	[ "$(jq -r .name <<<"$output")" = plain ]
	[ "$stderr" = "bm-hash: noprompt.yml:1:1: no prompt: give prompt, sequence or variants" ]
}

@test "bm-hash: a missing file is named, exit 1" {
	run --separate-stderr bm-hash -t nosuch.yml plain.yml
	[ "$status" -eq 1 ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  plain.yml" ]
	[ "$stderr" = "bm-hash: nosuch.yml: No such file or directory" ]
}

@test "bm-hash: binary junk is an error, not a crash" {
	head -c 4096 /dev/urandom > "$BATS_TEST_TMPDIR/junk.yml"
	run --separate-stderr bm-hash "$BATS_TEST_TMPDIR/junk.yml"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" =~ ^bm-hash:\ $BATS_TEST_TMPDIR/junk\.yml ]]
}

@test "bm-hash: usage, -h and --version" {
	run --separate-stderr bm-hash -h
	[ "$status" -eq 0 ]
	[ "$output" = "usage: bm-hash [-t] [-c FILE] [-p TEXT] [-q] [-v] [FILE|DIR...]

    -t, --text            print md5sum-style lines: ID  PATH
    -c, --check FILE      check the ids listed in FILE (- for stdin)
    -p, --prompt TEXT     print the benchmark id of the prompt TEXT
    -q, --quiet           print only errors on stderr
    -v, --verbose         say more on stderr (-vv: more still)
    -h, --help            print this help and exit
    --version             print the version and exit" ]
	[ "$stderr" = "" ]
	run --separate-stderr bm-hash --version
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "bm-hash 0.1.0" ]
	run --separate-stderr bm-hash --bogus
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-hash: unrecognized option '--bogus'
usage: bm-hash [-t] [-c FILE] [-p TEXT] [-q] [-v] [FILE|DIR...]" ]
	run --separate-stderr bm-hash -p x extra.yml
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-hash: -p takes no FILE arguments" ]
}

@test "bm-hash: a full stdout is a write error, exit 2" {
	run --separate-stderr bash -c 'bm-hash plain.yml > /dev/full'
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-hash: stdout: No space left on device" ]
}

@test "bm-hash: thousands of files, in order, one bad among them" {
	d=$BATS_TEST_TMPDIR/many
	mkdir -p "$d"
	for i in $(seq -w 0 1499); do
		printf 'prompt: "prompt %s"\n' "$i" > "$d/p$i.yml"
	done
	printf 'prompt: [broken\n' > "$d/p1200.yml"
	run --separate-stderr bm-hash -t "$d"
	[ "$status" -eq 1 ]
	[ "$(wc -l <<<"$output")" -eq 1499 ]
	[ "$(head -n 1 <<<"$output")" = "$(printf %s 'prompt 0000' | md5sum | cut -c1-32)  $d/p0000.yml" ]
	[ "$(tail -n 1 <<<"$output")" = "$(printf %s 'prompt 1499' | md5sum | cut -c1-32)  $d/p1499.yml" ]
	[ "$(cut -c35- <<<"$output")" = "$(ls "$d"/*.yml | grep -v p1200)" ]
	[ "$stderr" = "bm-hash: $d/p1200.yml:2:1: did not find expected ',' or ']' while parsing a flow sequence started at 1:9" ]
}

@test "bm-hash: symbolic link cycles are walked once, each told once" {
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d/b" "$d/c"
	cp plain.yml "$d/b/"
	ln -s . "$d/b/x"
	ln -s . "$d/b/y"
	ln -s ../b/plain.yml "$d/c/same.yml"
	cd "$d"
	run --separate-stderr timeout 60 bm-hash -t .
	[ "$status" -eq 0 ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  ./b/plain.yml" ]
	[ "$stderr" = "bm-hash: warning: ./b/x: directory cycle (back to ./b), skipped
bm-hash: warning: ./b/y: directory cycle (back to ./b), skipped" ]
}

@test "bm-hash: a FIFO is skipped with a warning, and an error as an operand" {
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d"
	cp plain.yml "$d/"
	mkfifo "$d/pipe.yml"
	cd "$d"
	run --separate-stderr timeout 60 bm-hash -t .
	[ "$status" -eq 0 ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  ./plain.yml" ]
	[ "$stderr" = "bm-hash: warning: ./pipe.yml: not a regular file, skipped" ]
	run --separate-stderr timeout 60 bm-hash -t pipe.yml plain.yml
	[ "$status" -eq 1 ]
	[ "$output" = "0c1410da6636525dfbb07871aa041bbf  plain.yml" ]
	[ "$stderr" = "bm-hash: pipe.yml: not a regular file" ]
}

@test "bm-hash: -c checks a path's documents in order; a line past the last one fails" {
	cp multi.yaml "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR"
	bm-hash -t multi.yaml > ids
	# documents swapped: each line checks the document at its place
	{ sed -n 2p ids; sed -n 1p ids; sed -n 3p ids; } > swapped
	run --separate-stderr bm-hash -c swapped
	[ "$status" -eq 1 ]
	[ "$output" = "multi.yaml: FAILED
multi.yaml: FAILED
multi.yaml: OK" ]
	[ "$stderr" = "bm-hash: warning: 2 computed ids did not match" ]
	tail -1 ids >> ids
	run --separate-stderr bm-hash -c ids
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-hash: warning: 1 computed id did not match" ]
	[ "$output" = "multi.yaml: OK
multi.yaml: OK
multi.yaml: OK
multi.yaml: FAILED" ]
}
