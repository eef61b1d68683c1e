/* test-config.c: bm.yml loading, extends, errors, ${VAR}, resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "hash.h"
#include "price.h"
#include "xalloc.h"
#include "tap.h"

static char *fixtures;	/* tests/fixtures/config, absolute */
static char *tmpdir;	/* where load_str writes bm.yml */

/* Load a fixture by its bare name, so messages read "full.yml:3:4: ...". */
static struct bm_config *
load_fixture(const char *name, struct bm_error *e)
{
	if (chdir(fixtures) == -1)
		return NULL;
	return bm_config_load(name, e);
}

/* Write text as bm.yml in the temporary directory and load it. */
static struct bm_config *
load_str(const char *text, struct bm_error *e)
{
	FILE *f;

	if (chdir(tmpdir) == -1 || (f = fopen("bm.yml", "w")) == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	return bm_config_load("bm.yml", e);
}

/* The message a config that must not load gives ("" when it loads). */
static char *
load_err(const char *text)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c = load_str(text, &e);
	char *s;

	if (c) {
		bm_config_free(c);
		return xstrdup("");
	}
	s = xstrdup(bm_error_str(&e));
	bm_error_clear(&e);
	return s;
}

static void
err_is(const char *text, const char *want, const char *what)
{
	char *got = load_err(text);

	is(got, want, what);
	free(got);
}

static void
test_full(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c = load_fixture("full.yml", &e);
	const struct bm_provider *p;
	const struct bm_model *m;
	const struct bm_selection *s;
	const cJSON *o;
	struct bm_buf b = BM_BUF_INIT;
	char sum[65], chunk[4096];
	FILE *f;
	size_t n;

	if (!ok(c != NULL, "full.yml loads")) {
		printf("# %s\n", bm_error_str(&e));
		bm_error_clear(&e);
		return;
	}
	is(c->path, "full.yml", "path");
	f = fopen("full.yml", "rb");
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bm_buf_add(&b, chunk, n);
	if (f)
		fclose(f);
	bm_hash_sha256(bm_buf_str(&b), b.len, sum);
	is(c->sha256, sum, "sha256 of the file bytes");
	bm_buf_free(&b);

	is_int(c->nproviders, 8, "5 configured + 3 unshadowed built-ins");
	if (c->nproviders == 8) {
		is(c->providers[0].name, "openai", "file order 0");
		is(c->providers[4].name, "agent", "file order 4");
		is(c->providers[5].name, "ollama", "built-ins after");
		is(c->providers[6].name, "exec", "built-in exec");
		is(c->providers[7].name, "echo", "built-in echo");
		ok(c->providers[7].builtin && !c->providers[0].builtin,
		    "builtin flag");
	}
	p = bm_config_provider(c, "openai");
	ok(p && p->type == BM_PROVIDER_OPENAI, "openai type");
	if (p) {
		is(p->base_url, "https://api.openai.com/v1", "openai base_url");
		is(p->api_key_env, "OPENAI_API_KEY", "openai api_key_env");
		is_int(p->max_concurrency, 12, "max_concurrency");
		ok(p->rpm == 500 && p->tpm == 200000, "rpm, tpm");
		ok(p->timeout == 60, "timeout");
		is_int(p->retries, 3, "retries");
		ok(!p->stream, "stream off by default");
	}
	p = bm_config_provider(c, "anthropic");
	ok(p && p->type == BM_PROVIDER_ANTHROPIC, "anthropic type");
	if (p) {
		is(p->base_url, "https://api.anthropic.com",
		    "anthropic default base_url");
		is_int(p->retries, -1, "retries unset is -1");
		ok(p->rpm == 0 && p->timeout == 0, "unset numbers are 0");
	}
	p = bm_config_provider(c, "deepinfra");
	ok(p && p->stream && p->max_concurrency == 8, "deepinfra");
	if (p)
		is(p->api_key_env, "DEEPINFRA_API_KEY", "deepinfra key env");
	p = bm_config_provider(c, "local");
	ok(p && p->type == BM_PROVIDER_OLLAMA && p->api_key_env == NULL,
	    "local is ollama without a key");
	p = bm_config_provider(c, "agent");
	ok(p && p->type == BM_PROVIDER_EXEC, "agent is exec");
	if (p)
		is(p->command, "./agents/run.sh", "agent command");
	ok(bm_config_provider(c, "nosuch") == NULL, "no such provider");

	is_int(c->nmodels, 4, "four models");
	m = c->nmodels == 4 ? &c->models[0] : NULL;
	if (m) {
		is(m->name, "gpt-4o-mini", "model name");
		is(m->provider, "openai", "model provider");
		is_int(m->context, 128000, "context");
		ok(m->has_price && m->price_input == 0.15 &&
		    m->price_output == 0.60, "price");
		ok(m->chars_per_token == 4, "chars_per_token default");
		ok(m->params == NULL, "no params");
		m = &c->models[1];
		is(m->model, "gpt-4o", "judge model id");
		/* No price: in bm.yml: the built-in table's (price.h). */
		ok(m->has_price && m->price_input == 2.50 &&
		    m->price_output == 10.00 && m->context == 0,
		    "judge: gpt-4o's built-in price, no context");
		m = &c->models[2];
		is(m->model, "llama3.2:1b", "quoted model id");
		ok(m->chars_per_token == 3.5, "chars_per_token");
		m = &c->models[3];
		o = cJSON_GetObjectItem(m->params, "options");
		ok(cJSON_IsNumber(cJSON_GetObjectItem(m->params,
		    "temperature")) && cJSON_GetObjectItem(o, "num_ctx") &&
		    cJSON_GetObjectItem(o, "num_ctx")->valuedouble == 8192,
		    "params kept as JSON");
	}

	s = bm_config_profile(c, "medium");
	ok(s && s->nmodels == 2 && s->repeat == 6, "medium");
	if (s && s->nmodels == 2)
		is(s->models[1], "llama3.2-3b", "medium models");
	s = bm_config_profile(c, "light");
	ok(s && s->nmodels == 1 && s->repeat == 3 && s->ntags == 0, "light");
	s = bm_config_batch(c, "quick");
	ok(s && s->nmodels == 1 && s->repeat == 2 && s->ntags == 1,
	    "batch: profile, then its own fields");
	if (s && s->nmodels == 1 && s->ntags == 1) {
		is(s->models[0], "llama3.2-1b", "batch models from profile");
		is(s->tags[0], "smoke", "batch tags");
		is(s->name, "quick", "batch name");
	}
	ok(bm_config_batch(c, "slow") == NULL, "no such batch");
	is(c->default_profile, "medium", "default_profile");
	bm_config_free(c);
}

static void
test_resolve(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c = load_fixture("full.yml", &e);
	struct bm_target t;

	if (!ok(c != NULL, "full.yml for resolution"))
		return;
	ok(bm_config_resolve(c, "gpt-4o-mini", &t, &e) == 0, "a models: name");
	ok(t.provider && strcmp(t.provider->name, "openai") == 0 &&
	    t.model == &c->models[0] && t.context == 128000 &&
	    t.chars_per_token == 4, "its provider and limits");
	is(t.api_model, "gpt-4o-mini", "its model id");
	ok(bm_config_resolve(c, "judge", &t, &e) == 0, "judge");
	is(t.api_model, "gpt-4o", "model id differs from the name");
	ok(bm_config_resolve(c, "llama3.2-1b", &t, &e) == 0, "llama3.2-1b");
	ok(strcmp(t.provider->name, "local") == 0 &&
	    t.chars_per_token == 3.5 && t.context == 131072, "local model");

	ok(bm_config_resolve(c, "ollama:llama3.2:1b", &t, &e) == 0,
	    "ollama:llama3.2:1b");
	ok(strcmp(t.provider->name, "ollama") == 0 && t.provider->builtin &&
	    t.model == NULL && t.context == 0 && t.chars_per_token == 4,
	    "built-in ollama");
	is(t.api_model, "llama3.2:1b", "model is all after the first colon");
	ok(bm_config_resolve(c, "local:llama3.2:1b", &t, &e) == 0 &&
	    t.model == &c->models[2] && t.context == 131072,
	    "PROVIDER:MODEL finds its models: entry");
	ok(bm_config_resolve(c, "openai:gpt-4o-mini", &t, &e) == 0 &&
	    t.model == &c->models[0] && t.model->has_price,
	    "openai:gpt-4o-mini gets its price");
	ok(bm_config_resolve(c, "anthropic:claude-3-5-haiku-latest", &t,
	    &e) == 0 && t.provider->type == BM_PROVIDER_ANTHROPIC,
	    "anthropic:");
	is(t.api_model, "claude-3-5-haiku-latest", "anthropic model id");
	ok(bm_config_resolve(c, "echo:", &t, &e) == 0 &&
	    t.provider->type == BM_PROVIDER_ECHO, "echo:");
	is(t.api_model, "", "echo: has an empty model");
	ok(bm_config_resolve(c, "exec:./run.sh", &t, &e) == 0 &&
	    t.provider->type == BM_PROVIDER_EXEC, "exec:./run.sh");
	is(t.api_model, "./run.sh", "exec: the command");
	ok(bm_config_resolve(c, "agent:", &t, &e) == 0, "agent:");
	is(t.api_model, "./agents/run.sh", "a configured exec's command");

	ok(bm_config_resolve(c, "exec:", &t, &e) == -1, "exec: alone");
	is(bm_error_str(&e), "no command in 'exec:' (write 'exec:./script' "
	    "or give provider 'exec' a command)", "exec: message");
	ok(bm_config_resolve(c, "openai:", &t, &e) == -1, "openai: alone");
	is(bm_error_str(&e), "no model in 'openai:'", "no model message");
	ok(bm_config_resolve(c, "opnai:gpt-4o", &t, &e) == -1, "typo");
	is(bm_error_str(&e), "unknown provider 'opnai' in 'opnai:gpt-4o' "
	    "(did you mean 'openai'?)", "unknown provider message");
	ok(bm_config_resolve(c, "judg", &t, &e) == -1, "unknown model");
	is(bm_error_str(&e), "unknown model 'judg' (did you mean 'judge'?)",
	    "unknown model message");
	ok(bm_config_resolve(c, "zzzzzz", &t, &e) == -1, "far off");
	is(bm_error_str(&e), "unknown model 'zzzzzz'", "no suggestion");
	ok(bm_config_resolve(c, "echo", &t, &e) == -1, "provider alone");
	is(bm_error_str(&e), "unknown model 'echo' (did you mean 'echo:'?)",
	    "suggests the provider form");
	ok(bm_config_resolve(c, "", &t, &e) == -1, "empty reference");
	bm_config_free(c);

	c = load_str("models:\n  gpt-4o: {provider: openai}\n", &e);
	ok(c && bm_config_resolve(c, "gpt4", &t, &e) == -1, "gpt4");
	is(bm_error_str(&e), "unknown model 'gpt4' (did you mean 'gpt-4o'?)",
	    "punctuation left out still suggests");
	if (c && bm_config_resolve(c, "gpt-4o", &t, &e) == 0)
		is(t.api_model, "gpt-4o", "model id defaults to the name");
	bm_config_free(c);
	bm_error_clear(&e);
}

static void
test_extends(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c = load_fixture("extends.yml", &e);
	const struct bm_selection *s;

	if (!ok(c != NULL, "extends.yml loads")) {
		printf("# %s\n", bm_error_str(&e));
		bm_error_clear(&e);
		return;
	}
	s = bm_config_profile(c, "more");
	ok(s && s->nmodels == 2 && s->repeat == 2 && s->ntags == 2,
	    "more: own models, inherited repeat and tags");
	if (s && s->nmodels == 2 && s->ntags == 2) {
		is(s->models[1], "exec:./run.sh", "more models");
		is(s->tags[1], "math", "inherited tags");
	}
	s = bm_config_profile(c, "most");
	ok(s && s->nmodels == 2 && s->repeat == 5 && s->ntags == 0,
	    "most: two levels, an empty list overrides");
	s = bm_config_profile(c, "early");
	ok(s && s->nmodels == 2 && s->repeat == 5 && s->ntags == 0,
	    "a parent defined further down");
	s = bm_config_batch(c, "nightly");
	ok(s && s->nmodels == 2 && s->repeat == 2 && s->ntags == 1,
	    "batch over an extended profile");
	if (s && s->ntags == 1)
		is(s->tags[0], "nightly", "batch tags override");
	s = bm_config_batch(c, "solo");
	ok(s && s->nmodels == 1 && s->repeat == 0 && s->ntags == 0,
	    "batch without a profile; a string is a list of one");
	ok(c->default_profile == NULL, "no default_profile");
	bm_config_free(c);

	c = load_fixture("cycle2.yml", &e);
	ok(c == NULL, "a two-profile cycle");
	is(bm_error_str(&e),
	    "cycle2.yml:3:14: profile 'a': extends cycle a -> b -> a",
	    "cycle message at the extends value");
	c = load_fixture("cycle3.yml", &e);
	ok(c == NULL, "a three-profile cycle");
	is(bm_error_str(&e),
	    "cycle3.yml:4:16: profile 'a': extends cycle a -> b -> c -> a",
	    "three-long cycle message");
	err_is("profiles:\n  s: {extends: s}\n",
	    "bm.yml:2:16: profile 's': extends cycle s -> s", "self cycle");
	err_is("profiles:\n  light: {repeat: 1}\n  big: {extends: ligth}\n",
	    "bm.yml:3:18: unknown profile 'ligth' (did you mean 'light'?)",
	    "unknown parent");
	err_is("profiles:\n  light: {repeat: 1}\nbatches:\n"
	    "  b: {profile: nope}\n",
	    "bm.yml:4:16: unknown profile 'nope'", "batch's unknown profile");
	err_is("profiles:\n  light: {}\ndefault_profile: lihgt\n",
	    "bm.yml:3:18: unknown profile 'lihgt' (did you mean 'light'?)",
	    "default_profile must name a profile");
	bm_error_clear(&e);
}

static void
test_errors(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;

	c = load_fixture("unknown-key.yml", &e);
	ok(c == NULL, "unknown key");
	is(bm_error_str(&e), "unknown-key.yml:4:5: unknown key "
	    "'max_concurency' (did you mean 'max_concurrency'?)",
	    "unknown key message at the key");
	err_is("modles: {}\n",
	    "bm.yml:1:1: unknown key 'modles' (did you mean 'models'?)",
	    "top-level key");
	err_is("- a\n", "bm.yml:1:1: expected a mapping", "not a mapping");
	err_is("providers: [openai]\n", "bm.yml:1:12: providers: expected a "
	    "mapping", "providers not a mapping");
	err_is("providers:\n  openai:\n    max_concurrency: lots\n",
	    "bm.yml:3:22: max_concurrency: expected an integer", "wrong type");
	err_is("providers:\n  openai: {max_concurrency: 1.5}\n",
	    "bm.yml:2:29: max_concurrency: expected an integer",
	    "a fraction is not an integer");
	err_is("providers:\n  openai: {max_concurrency: -1}\n",
	    "bm.yml:2:29: max_concurrency: expected an integer from 0 to "
	    "100000, got -1", "max_concurrency range");
	err_is("providers:\n  openai: {rpm: -5}\n",
	    "bm.yml:2:17: rpm: expected a number >= 0, got -5", "rpm range");
	err_is("providers:\n  openai: {timeout: fast}\n",
	    "bm.yml:2:21: timeout: expected a number", "timeout type");
	err_is("providers:\n  openai: {stream: \"yes\"}\n",
	    "bm.yml:2:20: stream: expected true or false", "stream type");
	err_is("providers:\n  openai: {base_url: 8080}\n",
	    "bm.yml:2:22: base_url: expected a string", "string type");
	err_is("providers:\n  mine: {type: opanai}\n",
	    "bm.yml:2:16: type: unknown provider type 'opanai' "
	    "(did you mean 'openai'?)", "provider type did-you-mean");
	err_is("providers:\n  mine: {type: grpc}\n",
	    "bm.yml:2:16: type: unknown provider type 'grpc' (expected "
	    "openai, anthropic, ollama, exec or echo)", "bad provider type");
	err_is("providers:\n  mine: {base_url: x}\n",
	    "bm.yml:2:3: provider 'mine': missing 'type' (openai, anthropic, "
	    "ollama, exec or echo)", "missing type");
	err_is("models:\n  m: {provider: opnai}\n",
	    "bm.yml:2:17: provider: unknown provider 'opnai' "
	    "(did you mean 'openai'?)", "model's unknown provider");
	err_is("models:\n  m: {model: x}\n",
	    "bm.yml:2:3: model 'm': missing 'provider'", "model's provider");
	err_is("models:\n  m: {provider: echo, chars_per_token: 0}\n",
	    "bm.yml:2:40: chars_per_token: expected a number > 0, got 0",
	    "chars_per_token range");
	err_is("models:\n  m: {provider: echo, price: {input: 1, ouput: 2}}\n",
	    "bm.yml:2:41: unknown key 'ouput' (did you mean 'output'?)",
	    "price keys");
	err_is("models:\n  m: {provider: echo, params: [1]}\n",
	    "bm.yml:2:31: params: expected a mapping", "params type");
	err_is("profiles:\n  p: {repeat: 0}\n",
	    "bm.yml:2:15: repeat: expected an integer from 1 to 1000000, "
	    "got 0", "repeat range");
	err_is("profiles:\n  p: {models: [gpt4]}\n",
	    "bm.yml:2:16: unknown model 'gpt4'", "unknown model in a profile");
	err_is("profiles:\n  p: {models: [\"echo:\", 3]}\n",
	    "bm.yml:2:25: models: expected a string", "list item type");
	err_is("profiles:\n  p: {tags: {a: 1}}\n",
	    "bm.yml:2:13: tags: expected a list of strings", "tags type");
	err_is("models: {}\n---\nmodels: {}\n",
	    "bm.yml:3:1: expected one YAML document, found a second",
	    "two documents");
	err_is("providers:\n  openai: {base_url: \"${BM_T_UNSET:?set it}\"}\n",
	    "bm.yml:2:22: base_url: BM_T_UNSET: set it", "${VAR:?} error");

	err_is("providers:\n  a:b: {type: echo}\n",
	    "bm.yml:2:3: provider name 'a:b' must be non-empty and without "
	    "':'", "a provider name with a colon");
	err_is("models:\n  m:\n", "bm.yml:2:3: model 'm': missing "
	    "'provider'", "an empty model entry");
	err_is("providers:\n  openai:\nmodels:\nprofiles:\n  p:\n"
	    "batches:\n  b: {profile: p}\n", "", "empty values are empty");
	err_is("providers: {x: {type: exec, command: ./a.sh, stream: false,"
	    " api_key_env: \"\", timeout: 2.5}}\n", "",
	    "every provider key");

	ok(bm_config_load("nosuch.yml", &e) == NULL, "missing file");
	is(bm_error_str(&e), "nosuch.yml: No such file or directory",
	    "missing file message");
	ok(bm_config_load(".", &e) == NULL, "a directory");
	is(bm_error_str(&e), ".: Is a directory", "directory message");
	bm_error_clear(&e);
}

static void
test_defaults(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;
	const struct bm_provider *p;
	struct bm_target t;

	unsetenv("OPENAI_BASE_URL");
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("OLLAMA_HOST");
	c = bm_config_load(NULL, &e);
	if (!ok(c != NULL, "NULL path gives the defaults"))
		return;
	ok(c->path == NULL && c->sha256[0] == '\0', "no path, no sha256");
	is_int(c->nproviders, 5, "five built-in providers");
	ok(c->nmodels == 0 && c->nprofiles == 0 && c->nbatches == 0 &&
	    c->default_profile == NULL, "nothing else");
	p = bm_config_provider(c, "openai");
	ok(p && p->builtin && p->retries == -1, "built-in openai");
	if (p) {
		is(p->base_url, "https://api.openai.com/v1", "openai default");
		is(p->api_key_env, "OPENAI_API_KEY", "openai key env");
	}
	p = bm_config_provider(c, "anthropic");
	if (ok(p != NULL, "built-in anthropic"))
		is(p->api_key_env, "ANTHROPIC_API_KEY", "anthropic key env");
	p = bm_config_provider(c, "ollama");
	if (ok(p != NULL, "built-in ollama")) {
		is(p->base_url, "http://127.0.0.1:11434", "ollama default");
		ok(p->api_key_env == NULL, "ollama needs no key");
	}
	p = bm_config_provider(c, "exec");
	ok(p && p->base_url == NULL && p->command == NULL, "built-in exec");
	ok(bm_config_resolve(c, "openai:gpt-4o-mini", &t, &e) == 0,
	    "resolves without a file");

	/* API keys come from the environment and are redacted. */
	unsetenv("OPENAI_API_KEY");
	ok(bm_config_api_key(bm_config_provider(c, "openai")) == NULL,
	    "no key when unset");
	setenv("OPENAI_API_KEY", "", 1);
	ok(bm_config_api_key(bm_config_provider(c, "openai")) == NULL,
	    "no key when empty");
	setenv("OPENAI_API_KEY", "sk-test-0123456789", 1);
	is(bm_config_api_key(bm_config_provider(c, "openai")),
	    "sk-test-0123456789", "the key from the environment");
	ok(bm_redact_has("Bearer sk-test-0123456789"), "and it is redacted");
	ok(bm_config_api_key(bm_config_provider(c, "echo")) == NULL,
	    "echo needs no key");
	bm_config_free(c);

	setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1", 1);
	setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:8", 1);
	setenv("OLLAMA_HOST", "localhost:1234", 1);
	c = bm_config_load(NULL, &e);
	if (ok(c != NULL, "defaults with environment overrides")) {
		is(bm_config_provider(c, "openai")->base_url,
		    "http://127.0.0.1:9/v1", "OPENAI_BASE_URL");
		is(bm_config_provider(c, "anthropic")->base_url,
		    "http://127.0.0.1:8", "ANTHROPIC_BASE_URL");
		is(bm_config_provider(c, "ollama")->base_url,
		    "http://localhost:1234", "OLLAMA_HOST gets a scheme");
	}
	bm_config_free(c);
	setenv("OLLAMA_HOST", "https://gpu:11434", 1);
	c = load_str("providers:\n"
	    "  vllm: {type: openai, api_key_env: null}\n"
	    "  fixed: {type: openai, base_url: \"http://x/v1\"}\n"
	    "  openai: {rpm: 60}\n"
	    "  box: {type: ollama}\n", &e);
	if (ok(c != NULL, "configured providers and the environment")) {
		p = bm_config_provider(c, "vllm");
		is(p->base_url, "http://127.0.0.1:9/v1",
		    "type openai follows OPENAI_BASE_URL");
		ok(p->api_key_env == NULL, "api_key_env: null needs no key");
		p = bm_config_provider(c, "fixed");
		is(p->base_url, "http://x/v1", "a written base_url wins");
		is(p->api_key_env, "OPENAI_API_KEY", "type's default key env");
		p = bm_config_provider(c, "openai");
		ok(p->type == BM_PROVIDER_OPENAI && !p->builtin && p->rpm == 60,
		    "a built-in's name gives its type");
		is(bm_config_provider(c, "box")->base_url, "https://gpu:11434",
		    "OLLAMA_HOST with a scheme");
		is_int(c->nproviders, 8, "openai is not added twice");
	} else {
		printf("# %s\n", bm_error_str(&e));
	}
	bm_config_free(c);
	unsetenv("OPENAI_BASE_URL");
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("OLLAMA_HOST");
	unsetenv("OPENAI_API_KEY");

	c = load_str("", &e);
	ok(c && c->nproviders == 5 && c->sha256[0] != '\0',
	    "an empty file gives the defaults");
	bm_config_free(c);
	bm_error_clear(&e);
}

static void
expand_is(const char *s, const char *want, const char *what)
{
	struct bm_error e = BM_ERROR_INIT;
	char *got = bm_config_expand(s, &e);

	if (got == NULL)
		printf("# error: %s\n", bm_error_str(&e));
	is(got, want, what);
	free(got);
	bm_error_clear(&e);
}

static void
expand_err(const char *s, const char *want, const char *what)
{
	struct bm_error e = BM_ERROR_INIT;
	char *got = bm_config_expand(s, &e);

	ok(got == NULL, what);
	is(bm_error_str(&e), want, what);
	free(got);
	bm_error_clear(&e);
}

static void
test_expand(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;
	const cJSON *stop;

	setenv("BM_T_A", "alpha", 1);
	setenv("BM_T_EMPTY", "", 1);
	unsetenv("BM_T_UNSET");
	expand_is("x${BM_T_A}y", "xalphay", "${VAR}");
	expand_is("${BM_T_UNSET}", "", "unset is empty");
	expand_is("${BM_T_UNSET:-def}", "def", "${VAR:-default} unset");
	expand_is("${BM_T_EMPTY:-def}", "def", "${VAR:-default} empty");
	expand_is("${BM_T_EMPTY-def}", "", "${VAR-default} empty is set");
	expand_is("${BM_T_UNSET-def}", "def", "${VAR-default} unset");
	expand_is("${BM_T_A:-def}", "alpha", "${VAR:-default} set");
	expand_is("${BM_T_UNSET:-${BM_T_A}}", "alpha", "nested default");
	expand_is("${BM_T_UNSET:-a{b}", "a{b", "brace in a default");
	expand_is("${BM_T_A:?x}", "alpha", "${VAR:?} set");
	expand_is("$$ and $HOME", "$ and $HOME", "$$ and bare $NAME");
	expand_is("$$${BM_T_A}", "$alpha", "$$ then ${VAR}");
	expand_is("${BM_T_A}}", "alpha}", "a stray brace");
	expand_is("cost $", "cost $", "a trailing $");
	expand_is("", "", "empty");
	expand_err("${BM_T_UNSET:?need it}", "BM_T_UNSET: need it",
	    "${VAR:?message}");
	expand_err("${BM_T_EMPTY:?}",
	    "BM_T_EMPTY: parameter null or not set", "${VAR:?} empty");
	expand_err("${BM_T_A", "unterminated '${BM_T_A'", "unterminated");
	expand_err("a ${", "unterminated '${'", "unterminated, no name");
	expand_err("${BM_T_UNSET:-x", "unterminated '${BM_T_UNSET'",
	    "unterminated default");
	expand_err("${}", "bad substitution '${}'", "empty name");
	expand_err("${1x}", "bad substitution '${1x}'", "bad name");
	expand_err("${A+b}", "bad substitution in '${A+...'", "bad operator");

	setenv("BM_T_MC", "7", 1);
	c = load_str("providers:\n"
	    "  p: {type: openai, base_url: \"${BM_T_UNSET:-http://h}/v1\",\n"
	    "      max_concurrency: \"${BM_T_MC}\", rpm: \"${BM_T_RPM:-60}\",\n"
	    "      api_key_env: \"${BM_T_A}_KEY\"}\n"
	    "models:\n"
	    "  m: {provider: echo, model: \"${BM_T_A}\",\n"
	    "      params: {stop: [\"${BM_T_A}\", \"$$x\"], n: 1}}\n", &e);
	if (ok(c != NULL, "a file with ${VAR}")) {
		const struct bm_provider *p = bm_config_provider(c, "p");

		is(p->base_url, "http://h/v1", "in base_url");
		ok(p->max_concurrency == 7 && p->rpm == 60,
		    "numbers from variables");
		is(p->api_key_env, "alpha_KEY", "in api_key_env");
		is(c->models[0].model, "alpha", "in a model id");
		stop = cJSON_GetObjectItem(c->models[0].params, "stop");
		is(cJSON_GetStringValue(cJSON_GetArrayItem(stop, 0)), "alpha",
		    "in params");
		is(cJSON_GetStringValue(cJSON_GetArrayItem(stop, 1)), "$x",
		    "$$ in params");
	} else {
		printf("# %s\n", bm_error_str(&e));
	}
	bm_config_free(c);
	err_is("providers:\n  p: {type: openai, rpm: \"${BM_T_A}\"}\n",
	    "bm.yml:2:26: rpm: expected a number", "a variable that is not "
	    "a number");
	bm_error_clear(&e);
}

/* A models: entry on an exec provider without model: runs its command. */
static void
test_exec_model(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;
	struct bm_target t;

	c = load_str("providers:\n"
	    "  agent: {type: exec, command: ./agents/run.sh}\n"
	    "models:\n"
	    "  helper: {provider: agent, context: 100}\n"
	    "  other: {provider: agent, model: ./other.sh}\n"
	    "  ./bare.sh: {provider: exec}\n", &e);
	if (!ok(c != NULL, "exec models load")) {
		printf("# %s\n", bm_error_str(&e));
		bm_error_clear(&e);
		return;
	}
	ok(bm_config_resolve(c, "helper", &t, &e) == 0 &&
	    t.provider->type == BM_PROVIDER_EXEC, "resolve an exec model");
	is(t.api_model, "./agents/run.sh",
	    "no model: key: the provider's command, not the model's name");
	ok(t.model && t.context == 100, "the entry's context still applies");
	ok(bm_config_resolve(c, "other", &t, &e) == 0, "resolve other");
	is(t.api_model, "./other.sh", "a model: key is the command");
	ok(bm_config_resolve(c, "./bare.sh", &t, &e) == 0, "resolve bare");
	is(t.api_model, "./bare.sh", "a provider without a command: the name");
	bm_config_free(c);
}

/* The built-in price table (price.h): lookups and default references. */
static void
test_prices(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c = bm_config_load(NULL, &e);
	struct bm_target t;

	ok(bm_price_find("openai", "gpt-4o-mini") >= 0, "price: listed");
	is_int(bm_price_find("openai", "gpt-4o-mini-2024-07-18"),
	    bm_price_find("openai", "gpt-4o-mini"), "price: a dated id");
	is_int(bm_price_find("anthropic", "claude-3-5-haiku-latest"),
	    bm_price_find("anthropic", "claude-3-5-haiku"),
	    "price: -latest");
	is_int(bm_price_find("anthropic", "claude-sonnet-4-5-20250929"),
	    bm_price_find("anthropic", "claude-sonnet-4-5"),
	    "price: sonnet 4.5 is not sonnet 4");
	ok(bm_price_find("openai", "gpt-5.1") >= 0 &&
	    bm_price_find("openai", "gpt-5.1") != bm_price_find("openai",
	    "gpt-5"), "price: gpt-5.1 is its own row");
	is_int(bm_price_find("anthropic", "claude-opus-4-6"),
	    bm_price_find("anthropic", "claude-opus-4-6-20260205"),
	    "price: opus 4.6, dated");
	is_int(bm_price_find("openai", "gpt-4o-minimal"), -1,
	    "price: a longer id is another model");
	is_int(bm_price_find("openai", "claude-3-haiku"), -1,
	    "price: per vendor");
	if (c && bm_config_resolve(c, "openai:gpt-4o", &t, &e) == 0)
		ok(t.model && t.model->has_price &&
		    t.model->price_input == 2.50 &&
		    t.model->price_output == 10.00 && t.context == 0 &&
		    t.chars_per_token == 4, "openai:gpt-4o is priced");
	else
		ok(0, "openai:gpt-4o resolves");
	if (c && bm_config_resolve(c, "openai:llama-3", &t, &e) == 0)
		ok(t.model == NULL, "an unlisted model has no price");
	else
		ok(0, "openai:llama-3 resolves");
	if (c && bm_config_resolve(c, "ollama:gpt-4o", &t, &e) == 0)
		ok(t.model == NULL, "other provider types have none");
	else
		ok(0, "ollama:gpt-4o resolves");
	bm_error_clear(&e);
	bm_config_free(c);
}

/* judge: the judges of judge assertions (issue 13). */
static void
test_judge(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *c;

	c = load_str("judge: {model: gpt-4o, template: \"Q {{question}}\"}\n",
	    &e);
	ok(c && c->njudges == 1 && strcmp(c->judges[0], "gpt-4o") == 0,
	    "judge: model");
	is(c ? c->judge_template : NULL, "Q {{question}}", "judge: template");
	bm_config_free(c);
	c = load_str("judge: {models: [a, b, c]}\n", &e);
	ok(c && c->njudges == 3 && strcmp(c->judges[2], "c") == 0 &&
	    !c->judge_template, "judge: models, a panel");
	bm_config_free(c);
	c = load_str("providers: {}\n", &e);
	ok(c && c->njudges == 0 && !c->judges, "no judge");
	bm_config_free(c);
	err_is("judge: {model: a, models: [b]}\n",
	    "bm.yml:1:27: judge: model and models exclude each other",
	    "judge: model and models");
	err_is("judge: {modle: a}\n",
	    "bm.yml:1:9: unknown key 'modle' (did you mean 'model'?)",
	    "judge: unknown key");
	err_is("judge: {models: []}\n",
	    "bm.yml:1:17: models: expected at least one model",
	    "judge: an empty panel");
	err_is("judge: gpt-4o\n", "bm.yml:1:8: judge: expected a mapping",
	    "judge: a scalar");
	bm_error_clear(&e);
}

int
main(void)
{
	char tmpl[] = "/tmp/bm-test-config.XXXXXX";
	const char *src = getenv("BM_SRCDIR");
	char *cwd = getcwd(NULL, 0);

	fixtures = src && *src ? xasprintf("%s/tests/fixtures/config", src) :
	    xasprintf("%s/../tests/fixtures/config", cwd);
	tmpdir = mkdtemp(tmpl);
	if (tmpdir == NULL || access(fixtures, R_OK) == -1) {
		printf("Bail out! no temporary directory or no %s\n", fixtures);
		return 1;
	}
	test_judge();
	test_full();
	test_resolve();
	test_extends();
	test_errors();
	test_defaults();
	test_expand();
	test_exec_model();
	test_prices();

	if (chdir(tmpdir) == 0)
		unlink("bm.yml");
	if (chdir("/") == -1 || rmdir(tmpdir) == -1)
		printf("# cannot remove %s\n", tmpdir);
	free(fixtures);
	free(cwd);
	return done_testing();
}
