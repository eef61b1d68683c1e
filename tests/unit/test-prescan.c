/* test-prescan: the case stream read ahead (lib/prescan.h). */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "map.h"
#include "prescan.h"
#include "tap.h"

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *cfg;
	struct bm_map *ids = bm_map_new();
	struct bm_prescan *p;
	const char *var, *models;
	char got[65], want[65];

	unsetenv("OPENAI_API_KEY");
	cfg = bm_config_load(NULL, &e);
	ok(cfg != NULL, "the embedded configuration");
	p = bm_prescan_new(cfg, ids);
	bm_prescan_line(p, "{\"type\":\"case\",\"case_id\":\"a\","
	    "\"model\":\"openai:m1\",\"messages\":[]}\n");
	bm_prescan_line(p, "{\"type\":\"other\",\"case_id\":\"x\"}\n");
	bm_prescan_line(p, "not json\n");
	bm_prescan_line(p, "{\"type\":\"case\",\"case_id\":\"b\","
	    "\"model\":\"echo:\",\"steps\":[{\"prompt\":\"1\"},"
	    "{\"prompt\":\"2\"}]}");
	bm_prescan_line(p, "{\"type\":\"case\",\"case_id\":\"c\","
	    "\"model\":\"openai:m2\",\"messages\":[]}\n");
	bm_prescan_line(p, "{\"type\":\"case\",\"case_id\":\"d\","
	    "\"model\":\"openai:m1\",\"messages\":[]}\n");
	is_int(bm_prescan_total(p), 5, "a result a step of each case");
	bm_prescan_digest(p, got);
	bm_hash_sha256("a\nb\nc\nd\n", 8, want);
	is(got, want, "the digest of the case ids, a line each");
	ok(bm_map_get(ids, "a") && bm_map_get(ids, "d") &&
	    !bm_map_get(ids, "x"), "case ids kept, other records' not");
	ok(bm_prescan_nokey(p, 0, &var, &models) == 1, "an unset key");
	is(var, "OPENAI_API_KEY", "its variable");
	is(models, "openai:m1, openai:m2", "the models needing it, once each");
	ok(bm_prescan_nokey(p, 1, &var, &models) == 0, "only one");
	bm_prescan_free(p);
	bm_map_free(ids, NULL);
	bm_config_free(cfg);
	return done_testing();
}
