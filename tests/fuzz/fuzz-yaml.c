/*
 * fuzz-yaml.c: libFuzzer target for lib/yaml.c.  Reads every document of
 * the input and checks what callers rely on: each node of a tree has a
 * position, the document text lies inside the input, errors name a file.
 * Built and run by scripts/fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "yaml.h"

static const char *const allowed[] = { "name", "prompt", "vars", "tags",
	"expect", NULL };

static void
walk(const struct bm_yaml_doc *doc, const cJSON *node)
{
	const cJSON *c;
	long line, col;

	if (bm_yaml_where(doc, node, 0, &line, &col) != 0 || line < 1 ||
	    col < 1)
		abort();	/* every node must have a position */
	if (bm_yaml_where(doc, node, 1, &line, &col) != 0 || line < 1)
		abort();
	for (c = node->child; c; c = c->next)
		walk(doc, c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *doc;
	struct bm_yaml *y;
	char *copy;
	int rc, n = 0;

	/* A private copy so that ASan sees reads past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	y = bm_yaml_open(copy, size, "fuzz.yml");
	while ((rc = bm_yaml_next(y, &doc, &e)) != 0) {
		if (++n > 100000)
			abort();	/* the stream must end */
		if (rc < 0) {
			if (!e.msg || !e.file)
				abort();
			bm_error_clear(&e);
			continue;
		}
		if (doc->text < copy || doc->text + doc->text_len >
		    copy + size || doc->line < 1 || !doc->root)
			abort();
		walk(doc, doc->root);
		if (bm_yaml_check_keys(doc, "fuzz.yml", doc->root, allowed,
		    &e) < 0 && (!e.msg || e.line < 1))
			abort();
		bm_error_clear(&e);
		bm_yaml_doc_free(doc);
	}
	bm_yaml_close(y);
	bm_error_clear(&e);
	free(copy);
	return 0;
}
