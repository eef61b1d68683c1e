/*
 * price.h: the list prices of the common OpenAI and Anthropic models, in
 * USD per 1M tokens, as the vendors published them (table dated
 * BM_PRICE_DATE).  They are the default price of a model of an openai or
 * anthropic provider when bm.yml gives it none (bm.yml(5)).
 */
#ifndef BM_PRICE_H
#define BM_PRICE_H

#include <stddef.h>

#define BM_PRICE_DATE "2026-12"

struct bm_price {
	const char *vendor;	/* "openai" or "anthropic" */
	const char *model;	/* the API's model id */
	double input;		/* USD per 1M prompt tokens */
	double output;		/* USD per 1M completion tokens */
};

/* The table and its length. */
extern const struct bm_price bm_prices[];
extern const size_t bm_nprices;

/*
 * The index in bm_prices of model id of vendor: the id itself, or the id
 * followed by "-latest" or a date ("-20241022", "-2024-08-06"); -1 when
 * the table does not list it.
 */
long bm_price_find(const char *vendor, const char *model);

#endif
