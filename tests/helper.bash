# helper.bash: shared set-up for the bats suites.
bats_require_minimum_version 1.5.0
FIX="$BM_SRCDIR/tests/fixtures"
