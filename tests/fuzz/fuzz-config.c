/*
 * fuzz-config.c: libFuzzer target for bm.yml loading: the input is written
 * to a temporary file and loaded with bm_config_load; a loaded config is
 * queried a little.  Built and run by scripts/fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

static char path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;
	struct bm_target t;
	size_t i;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-config-%ld.yml",
		    (long)getpid());
	if (!(f = fopen(path, "wb")))
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	c = bm_config_load(path, &e);
	unlink(path);
	if (!c) {
		if (!e.msg)
			abort();	/* failure must say why */
		bm_error_clear(&e);
		return 0;
	}
	for (i = 0; i < c->nmodels; i++) {
		if (bm_config_resolve(c, c->models[i].name, &t, &e) < 0)
			bm_error_clear(&e);
	}
	if (bm_config_resolve(c, "echo:x", &t, &e) < 0)
		bm_error_clear(&e);
	for (i = 0; i < c->nprofiles; i++)
		(void)bm_config_profile(c, c->profiles[i].name);
	bm_config_free(c);
	bm_error_clear(&e);
	return 0;
}
