/*
 * fuzz-jsonl.c: libFuzzer target for the JSON-lines reader: the input is
 * read through bm_jsonl_next from a memory stream until it ends, and each
 * record printed by bm_json_print must be what cJSON prints.  Built and
 * run by scripts/fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	cJSON *rec;
	char *ours, *theirs;
	FILE *f;
	int rc;
	long n = 0;

	if (size == 0)
		return 0;	/* fmemopen wants a non-empty buffer */
	if (!(f = fmemopen((void *)data, size, "r")))
		return 0;
	bm_jsonl_open(&r, f, "fuzz.jsonl");
	while ((rc = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (++n > (long)size + 2)
			abort();	/* more records than lines */
		if (rc < 0) {
			if (!e.msg || rec)
				abort();
			bm_error_clear(&e);
			continue;
		}
		if (!cJSON_IsObject(rec))
			abort();
		(void)bm_jsonl_type(rec);
		ours = bm_json_print(rec);
		theirs = cJSON_PrintUnformatted(rec);
		if (!theirs || strcmp(ours, theirs) != 0)
			abort();
		free(ours);
		free(theirs);
		cJSON_Delete(rec);
	}
	bm_jsonl_close(&r);
	bm_error_clear(&e);
	fclose(f);
	return 0;
}
