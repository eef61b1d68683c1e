/* exec-show.c: bm-exec's progress line, --dry-run's problems and table. */
#include <stdlib.h>

#include "err.h"
#include "exec-show.h"

/* Append the providers in use (in flight, window, breaker) to b. */
static void
loads(const struct bm_sched *s, struct bm_buf *b, int color)
{
	struct bm_sched_load l;
	size_t i;

	for (i = 0; bm_sched_load(s, i, &l); i++) {
		if (l.down)
			bm_buf_addf(b, color ? " | \033[31m%s down\033[0m" :
			    " | %s down", l.name);
		else if (l.inflight || l.open)
			bm_buf_addf(b, color && l.open ?
			    " | \033[33m%s %ld/%ld open\033[0m" :
			    " | %s %ld/%ld", l.name, l.inflight, l.window);
	}
}

void
show_progress(const struct bm_sched *s, const struct bm_sched_tally *t,
    double elapsed_ms, int color, struct bm_buf *b)
{
	struct bm_sched_pace p;
	long eta;

	bm_sched_pace(t, elapsed_ms, &p);
	if (t->total >= 0)
		bm_buf_addf(b, "%ld/%ld done: ", t->done, t->total);
	else
		bm_buf_addf(b, "%ld done: ", t->done);
	bm_buf_addf(b, "%ld pass, %ld fail, ", t->pass, t->fail);
	bm_buf_addf(b, color && t->errors ? "\033[31m%ld error\033[0m" :
	    "%ld error", t->errors);
	if (t->cancelled)
		bm_buf_addf(b, ", %ld cancelled", t->cancelled);
	bm_buf_addf(b, " | %.1f req/s", p.rate);
	if ((eta = p.eta_s) >= 0) {
		if (eta < 60)
			bm_buf_addf(b, " | ETA %lds", eta);
		else if (eta < 3600)
			bm_buf_addf(b, " | ETA %ldm%02lds", eta / 60, eta % 60);
		else
			bm_buf_addf(b, " | ETA %ldh%02ldm", eta / 3600,
			    eta / 60 % 60);
	}
	loads(s, b, color);
	if (bm_sched_stats(s)->stopping)
		bm_buf_adds(b, color ? " | \033[33mstopping\033[0m" :
		    " | stopping");
}

int
show_plan(const struct bm_sched_plan *p, long lineno)
{
	char *why;
	int k, n = 0;

	if (p->key_env) {
		bm_errorf("<stdin>:%ld: case %s: %s is not set", lineno,
		    p->case_id, p->key_env);
		n++;
	}
	for (k = 0; k < p->nsteps; k++) {
		if (!p->steps[k].over)
			continue;
		why = bm_sched_context_msg(p->steps[k].prompt,
		    p->steps[k].completion, p->context);
		bm_errorf("<stdin>:%ld: case %s: step %d: %s", lineno,
		    p->case_id, k, why);
		free(why);
		n++;
	}
	return n;
}

/* One row of the --dry-run table. */
static void
totals_row(struct bm_buf *b, const struct bm_sched_totals *x)
{
	bm_buf_addf(b, "%-32s %8ld %14ld %18ld ", x->model, x->cases,
	    x->prompt, x->completion);
	if (x->priced)
		bm_buf_addf(b, "%12.6f\n", x->cost);
	else
		bm_buf_addf(b, "%12s\n", "-");
}

void
show_totals(const struct bm_sched_totals *tot, size_t n, struct bm_buf *b)
{
	static char total[] = "total";
	struct bm_sched_totals sum = { .model = total, .priced = 1 };
	size_t i;

	bm_buf_addf(b, "%-32s %8s %14s %18s %12s\n", "model", "cases",
	    "prompt_tokens", "max_output_tokens", "cost_usd");
	for (i = 0; i < n; i++) {
		totals_row(b, &tot[i]);
		sum.cases += tot[i].cases;
		sum.prompt += tot[i].prompt;
		sum.completion += tot[i].completion;
		sum.cost += tot[i].cost;
		/* The total's cost is known when every model's is. */
		sum.priced &= tot[i].priced;
	}
	if (n > 1)
		totals_row(b, &sum);
}
