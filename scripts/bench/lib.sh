# scripts/bench/lib.sh: helpers for the benchmark scripts (sourced).
# median_ms CMD...: run CMD 5 times (after one warm-up), print the median
# wall time in milliseconds.
median_ms() {
	"$@" >/dev/null 2>&1 || true
	for _ in 1 2 3 4 5; do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
	done | sort -n | sed -n 3p
}
# ratio A B: A/B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}
# gen_benchmarks DIR N: N benchmark files of about 350 bytes.
gen_benchmarks() {
	mkdir -p "$1"
	awk -v dir="$1" -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			f = sprintf("%s/b%05d.yml", dir, i)
			printf "name: bench-%05d\ndescription: generated benchmark %d for timing\ntags: [bench, %s]\nsystem: You are a careful calculator.\nprompt: \"Case %d: what is {{a}} + {{b}}? Answer with the number only.\"\nvars:\n  - {a: %d, b: %d, expected: \"%d\"}\n  - {a: %d, b: 1, expected: \"%d\"}\nexpect:\n  - equals: \"{{expected}}\"\n  - regex: \"^[0-9]+$\"\nrepeat: 1\n", i, i, (i % 2 ? "odd" : "even"), i, i, i + 1, 2 * i + 1, i, i + 1 > f
			close(f)
		}
	}'
}
