/*
 * runs-key.c: the exec cache's key.  Apart from runs.c so that the
 * programs that only read runs (bm-runs, bm-stats, bm-report) do not load
 * OpenSSL: its start-up is a few milliseconds of every listing.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jsonl.h"
#include "runs.h"

void
bm_runs_cache_key(const char *provider, const char *model,
    const cJSON *messages, const cJSON *params, char key[65])
{
	cJSON *k = cJSON_CreateArray();
	char *s;

	cJSON_AddItemToArray(k, cJSON_CreateString(provider ? provider : ""));
	cJSON_AddItemToArray(k, cJSON_CreateString(model ? model : ""));
	cJSON_AddItemToArray(k, messages ? cJSON_Duplicate(messages, 1) :
	    cJSON_CreateNull());
	cJSON_AddItemToArray(k, params ? cJSON_Duplicate(params, 1) :
	    cJSON_CreateNull());
	s = bm_json_print(k);
	bm_hash_sha256(s ? s : "", s ? strlen(s) : 0, key);
	free(s);
	cJSON_Delete(k);
}
