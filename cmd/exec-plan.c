/*
 * exec-plan.c: what bm-exec learns of the case stream before any request:
 * --dry-run's check and estimate, and a run's prescan (its total, its
 * digest, the API keys it needs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "exec.h"
#include "exec-show.h"
#include "jsonl.h"
#include "prescan.h"

/* --dry-run: check every case and estimate tokens and cost; no request. */
int
exec_dry_run(struct exec *x)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	struct bm_sched_totals *tot = NULL;
	struct bm_sched_plan p;
	struct bm_buf table = BM_BUF_INIT;
	size_t ntot = 0;
	cJSON *rec;
	size_t i;
	int rc, bad = 0, kase;

	x->ran = 1;
	bm_jsonl_open(&r, stdin, NULL);
	while ((rc = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (rc < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bad = 1;
			continue;
		}
		/* Other records: nothing to check. */
		kase = strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") == 0;
		if (kase && bm_sched_plan_case(x->cfg, rec, &tot, &ntot, &p,
		    &e) < 0) {
			bm_errorf("<stdin>:%ld: %s", r.lineno, e.msg);
			bm_error_clear(&e);
			bad = 1;
		} else if (kase) {
			bad |= show_plan(&p, r.lineno) > 0;
			free(p.steps);
		}
		cJSON_Delete(rec);
	}
	bm_jsonl_close(&r);
	/* Records on stdout, for jq; the table on stderr, for a person. */
	for (i = 0; i < ntot; i++) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "type", "estimate");
		cJSON_AddStringToObject(rec, "model", tot[i].model);
		cJSON_AddNumberToObject(rec, "cases", (double)tot[i].cases);
		cJSON_AddNumberToObject(rec, "prompt_tokens",
		    (double)tot[i].prompt);
		cJSON_AddNumberToObject(rec, "completion_tokens",
		    (double)tot[i].completion);
		bm_result_num(rec, "cost_usd", tot[i].cost, tot[i].priced);
		if (bm_jsonl_write(stdout, rec) < 0 && !x->write_failed) {
			x->write_failed = 1;
			x->write_errno = errno;
		}
		cJSON_Delete(rec);
	}
	show_totals(tot, ntot, &table);
	bm_sched_totals_free(tot, ntot);
	if (bm_verbosity >= 0)
		fputs(bm_buf_str(&table), stderr);
	bm_buf_free(&table);
	x->bad_lines = bad;
	return 0;
}

/*
 * Read the case stream once before the first request (DESIGN.md §8):
 * how many results it asks for (the status line's total), whether every
 * provider's API key is set, and the digest of its case ids.  A regular
 * file is read again from where it began; anything else is copied to a
 * temporary file, which the run then reads.  Returns the descriptor to
 * read cases from, or -1 after a message (exit 2, or 130 on a signal).
 */
int
exec_prescan(struct exec *x)
{
	struct bm_prescan *p = bm_prescan_new(x->cfg, x->ids);
	struct stat st;
	size_t cap = 0, i;
	ssize_t n;
	const char *var, *models;
	char *line = NULL;
	FILE *in, *spool = NULL;
	off_t off = -1;
	int fd = 0, bad = 0;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
		off = lseek(0, 0, SEEK_CUR);
	if (off >= 0) {
		in = fdopen(dup(0), "r");
	} else {
		in = stdin;
		spool = tmpfile();
		if (!spool) {
			bm_errorf("temporary file: %s", strerror(errno));
			bm_prescan_free(p);
			return -1;
		}
	}
	if (!in) {
		bm_errorf("<stdin>: %s", strerror(errno));
		bm_prescan_free(p);
		return -1;
	}
	errno = 0;
	while (!x->signals && (n = getline(&line, &cap, in)) >= 0) {
		if (spool && fwrite(line, 1, (size_t)n, spool) != (size_t)n) {
			bm_errorf("temporary file: %s", strerror(errno));
			bad = 1;
			break;
		}
		bm_prescan_line(p, line);
	}
	if (!bad && !x->signals && ferror(in)) {
		bm_errorf("<stdin>: %s", strerror(errno));
		bad = 1;
	}
	free(line);
	x->total = bm_prescan_total(p);
	bm_prescan_digest(p, x->stream);
	for (i = 0; bm_prescan_nokey(p, i, &var, &models); i++) {
		bm_errorf("%s is not set (needed by %s)", var, models);
		bad = 1;
	}
	bm_prescan_free(p);
	if (off >= 0) {
		fclose(in);
		if (lseek(0, off, SEEK_SET) < 0) {
			bm_errorf("<stdin>: %s", strerror(errno));
			bad = 1;
		}
	} else if (spool) {
		if (fflush(spool) == EOF || ferror(spool) ||
		    lseek(fileno(spool), 0, SEEK_SET) < 0) {
			if (!bad)
				bm_errorf("temporary file: %s",
				    strerror(errno));
			bad = 1;
		}
		fd = fileno(spool);	/* kept open until exit */
	}
	return bad || x->signals ? -1 : fd;
}
