/*
 * config.h: bm.yml (DESIGN.md §5, bm.yml(5)): providers, models, profiles
 * (with extends), batches; ${VAR} expansion; model reference resolution.
 * Without a file the embedded defaults hold: the built-in providers openai,
 * anthropic, ollama, exec and echo, no models, profiles or batches.
 * API keys are never stored here: only the name of the variable holding one.
 */
#ifndef BM_CONFIG_H
#define BM_CONFIG_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"

enum bm_provider_type {
	BM_PROVIDER_OPENAI,	/* OpenAI-compatible chat completions */
	BM_PROVIDER_ANTHROPIC,	/* Anthropic messages API */
	BM_PROVIDER_OLLAMA,	/* Ollama native /api/chat */
	BM_PROVIDER_EXEC,	/* a command: case JSON in, answer out */
	BM_PROVIDER_ECHO	/* answers the last user message */
};

struct bm_provider {
	char *name;		/* key under providers:, or the built-in name */
	enum bm_provider_type type;
	char *base_url;		/* else $OPENAI_BASE_URL etc., or default */
	char *api_key_env;	/* variable holding the key; NULL: none */
	char *command;		/* exec: the command (run by /bin/sh -c) */
	long max_concurrency;	/* requests in flight; 0: only -j limits */
	double rpm;		/* requests per minute; 0: unlimited */
	double tpm;		/* estimated tokens per minute; 0: unlimited */
	double timeout;		/* seconds per request; 0: default */
	long retries;		/* -1: the program's default */
	int stream;		/* use SSE (records ttft_ms) */
	int builtin;		/* not written in bm.yml */
	long max_response_bytes; /* an answer's bytes at most; 0: 16 MiB */
	char **env;		/* exec: key variables it may see (env:) */
	size_t nenv;
};

struct bm_model {
	char *name;		/* key under models: */
	char *provider;		/* a provider name */
	char *model;		/* the id sent to the API (default: name) */
	int model_given;	/* model: was written */
	long context;		/* context window in tokens; 0: unknown */
	int has_price;
	double price_input;	/* USD per 1M prompt tokens */
	double price_output;	/* USD per 1M completion tokens */
	double chars_per_token;	/* for the context estimate; default 4 */
	cJSON *params;		/* default request params, or NULL */
};

/* A profile or a batch, with extends/profile already applied. */
struct bm_selection {
	char *name;
	char **models;		/* model references */
	size_t nmodels;
	long repeat;		/* 0: unset */
	char **tags;		/* only benchmarks with any of these tags */
	size_t ntags;
};

struct bm_config {
	char *path;		/* NULL for the embedded defaults */
	char sha256[65];	/* of the file's bytes; "" for the defaults */
	struct bm_provider *providers;	/* bm.yml's, then built-ins */
	size_t nproviders;
	struct bm_model *models;
	size_t nmodels;
	struct bm_selection *profiles;
	size_t nprofiles;
	struct bm_selection *batches;
	size_t nbatches;
	char *default_profile;	/* default_profile:, or NULL */
	/* one model per row of the built-in price table (price.h), for
	 * openai:MODEL and anthropic:MODEL with no models: entry */
	struct bm_model *listed;
	size_t nlisted;

	/* judge: the judges of judge assertions that name none */
	char **judges;		/* model references; model: is one */
	size_t njudges;
	char *judge_template;	/* the rubric prompt; NULL: the default */
};

/* A model reference resolved to what to call. */
struct bm_target {
	const struct bm_provider *provider;
	const struct bm_model *model;	/* the models: entry, or NULL */
	const char *api_model;	/* model id for the API; exec: the command */
	double chars_per_token;	/* from the model, else 4 */
	long context;		/* from the model, else 0 */
};

/*
 * Load path; NULL path gives the embedded defaults.  NULL and e at
 * "path:line:col: message" on the first problem: a YAML error, an unknown
 * key (with did-you-mean), a wrong type, an unknown provider type or
 * provider, an extends cycle or unknown profile.
 */
struct bm_config *bm_config_load(const char *path, struct bm_error *e);
/* Free a configuration. */
void bm_config_free(struct bm_config *c);

/* The provider named name, or NULL. */
const struct bm_provider *bm_config_provider(const struct bm_config *c,
    const char *name);
/* The profile named name, or NULL. */
const struct bm_selection *bm_config_profile(const struct bm_config *c,
    const char *name);
/* The batch named name, or NULL. */
const struct bm_selection *bm_config_batch(const struct bm_config *c,
    const char *name);
/*
 * Resolve a model reference: a name under models:, else PROVIDER:MODEL
 * with a configured or built-in provider ("echo:", "exec:./run.sh",
 * "ollama:llama3.2:1b": the model is everything after the first colon).
 * 0, or -1 with e ("unknown model 'gpt4' (did you mean 'gpt-4o'?)").
 */
int bm_config_resolve(const struct bm_config *c, const char *ref,
    struct bm_target *t, struct bm_error *e);
/*
 * The API key for p from its api_key_env variable, registered for
 * redaction; NULL when p needs none or the variable is unset or empty.
 */
const char *bm_config_api_key(const struct bm_provider *p);

/*
 * Expand ${VAR}, ${VAR:-default} and ${VAR:?message} in s as the shell
 * does (unset VAR: empty); "$$" is a literal "$".  A new string, or NULL
 * and e for ${VAR:?...} with VAR unset or a malformed reference.
 */
char *bm_config_expand(const char *s, struct bm_error *e);

#endif
