# stub.bash: the stub LLM server (tests/stub) in a bats suite: `load stub`.
# Every wait polls and is bounded; none waits for time.
STUB="$BM_BUILDDIR/tests/stub/llmstub"
TICK=0.05

# until_true CMD...: run CMD every TICK until it succeeds, for at most 30 s.
until_true() {
	local i
	for i in $(seq 600); do
		"$@" && return 0
		sleep "$TICK"
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# stub_start [OPTION...]: start the stub, logging to stub.log; sets
# STUB_PID, PORT and OPENAI_BASE_URL.
stub_start() {
	[ -x "$STUB" ] || skip "llmstub not built"
	"$STUB" -P port -l stub.log "$@" &
	STUB_PID=$!
	until_true test -s port
	PORT=$(cat port)
	export OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1"
}

# stub_stop: stop the stub when one was started (for teardown).
stub_stop() {
	if [ -n "${STUB_PID:-}" ]; then
		kill "$STUB_PID" 2>/dev/null || true
		wait "$STUB_PID" 2>/dev/null || true
	fi
}

# stub_at_least FIELD N: the stub's counter FIELD (GET /stats) is >= N.
stub_at_least() {
	[ "$(curl -sf "http://127.0.0.1:$PORT/stats" | jq ".$1")" -ge "$2" ]
}

# stub_env KEY: what a bm-exec suite's setup does: work in the test's
# directory on a database of its own, with no provider settings from the
# caller's environment, and KEY as the OpenAI key.
stub_env() {
	cd "$BATS_TEST_TMPDIR"
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG OPENAI_BASE_URL ANTHROPIC_BASE_URL OLLAMA_HOST
	export OPENAI_API_KEY="$1"
}
