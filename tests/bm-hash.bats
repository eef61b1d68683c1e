#!/usr/bin/env bats
load helper

@test "bm-hash --version" {
	run --separate-stderr bm-hash --version
	[ "$status" -eq 0 ]
}
