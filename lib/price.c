/*
 * price.c: the built-in price table (price.h).  List prices for standard
 * (not batch, not cached) input and output tokens; bm.yml's price: wins.
 */
#include <ctype.h>
#include <string.h>

#include "price.h"

const struct bm_price bm_prices[] = {
	{ "openai", "gpt-5.1", 1.25, 10.00 },
	{ "openai", "gpt-5", 1.25, 10.00 },
	{ "openai", "gpt-5-mini", 0.25, 2.00 },
	{ "openai", "gpt-5-nano", 0.05, 0.40 },
	{ "openai", "gpt-4.1", 2.00, 8.00 },
	{ "openai", "gpt-4.1-mini", 0.40, 1.60 },
	{ "openai", "gpt-4.1-nano", 0.10, 0.40 },
	{ "openai", "gpt-4o", 2.50, 10.00 },
	{ "openai", "gpt-4o-mini", 0.15, 0.60 },
	{ "openai", "gpt-4-turbo", 10.00, 30.00 },
	{ "openai", "gpt-4", 30.00, 60.00 },
	{ "openai", "gpt-3.5-turbo", 0.50, 1.50 },
	{ "openai", "o1", 15.00, 60.00 },
	{ "openai", "o1-mini", 1.10, 4.40 },
	{ "openai", "o3", 2.00, 8.00 },
	{ "openai", "o3-mini", 1.10, 4.40 },
	{ "openai", "o4-mini", 1.10, 4.40 },
	{ "anthropic", "claude-opus-4-6", 5.00, 25.00 },
	{ "anthropic", "claude-opus-4-5", 5.00, 25.00 },
	{ "anthropic", "claude-opus-4-1", 15.00, 75.00 },
	{ "anthropic", "claude-opus-4", 15.00, 75.00 },
	{ "anthropic", "claude-opus-4-0", 15.00, 75.00 },
	{ "anthropic", "claude-sonnet-4-6", 3.00, 15.00 },
	{ "anthropic", "claude-sonnet-4-5", 3.00, 15.00 },
	{ "anthropic", "claude-sonnet-4", 3.00, 15.00 },
	{ "anthropic", "claude-sonnet-4-0", 3.00, 15.00 },
	{ "anthropic", "claude-haiku-4-5", 1.00, 5.00 },
	{ "anthropic", "claude-3-7-sonnet", 3.00, 15.00 },
	{ "anthropic", "claude-3-5-sonnet", 3.00, 15.00 },
	{ "anthropic", "claude-3-5-haiku", 0.80, 4.00 },
	{ "anthropic", "claude-3-opus", 15.00, 75.00 },
	{ "anthropic", "claude-3-haiku", 0.25, 1.25 },
};
const size_t bm_nprices = sizeof(bm_prices) / sizeof(bm_prices[0]);

/* Is s a date suffix: "20241022" or "2024-10-22"? */
static int
is_date(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 8) {
		for (i = 0; i < 8; i++)
			if (!isdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

long
bm_price_find(const char *vendor, const char *model)
{
	const char *rest;
	size_t i, n;

	for (i = 0; i < bm_nprices; i++) {
		if (strcmp(bm_prices[i].vendor, vendor) != 0)
			continue;
		n = strlen(bm_prices[i].model);
		if (strncmp(model, bm_prices[i].model, n) != 0)
			continue;
		rest = model + n;
		if (*rest == '\0' || (*rest == '-' &&
		    (strcmp(rest + 1, "latest") == 0 || is_date(rest + 1))))
			return (long)i;
	}
	return -1;
}
