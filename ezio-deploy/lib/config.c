/*
 * config.c - node.yaml: libyaml's event stream turned into a small tree,
 * then checked against one table of keys.
 *
 * Strict on purpose: an unknown key, a value of the wrong type, a number
 * out of range, a duplicate key, an alias or a second document is an
 * error naming the file, line and column, so that a typo in a key is not
 * silently ignored on the hundredth node.  The values of secret keys
 * (http.token) never appear in a message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cleanup.h"
#include "config.h"
#include "io.h"
#include "units.h"

#define MAX_DEPTH 16
#define MAX_FILE (1u << 20)

/* ------------------------------------------------------------------ */
/* the tree                                                             */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
        enum ykind kind;
        char *value;            /* Y_SCALAR */
        size_t len;
        bool plain;             /* unquoted scalar */
        size_t line, col;       /* 1-based */
        struct ynode **kids;    /* Y_SEQ: items; Y_MAP: key, value, key, value, ... */
        size_t n, cap;
};

static void ynode_free(struct ynode *y)
{
        size_t i;

        if (!y)
                return;
        for (i = 0; i < y->n; i++)
                ynode_free(y->kids[i]);
        free(y->kids);
        free(y->value);
        free(y);
}

static int at(struct ez_err *err, const char *name, size_t line, size_t col, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int at(struct ez_err *err, const char *name, size_t line, size_t col, const char *fmt, ...)
{
        char msg[EZ_ERR_MSG_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return ez_err_set(err, -EINVAL, "%s:%zu:%zu: %s", name, line, col, msg);
}

/* The array doubles: grown one by one, a flow list of 100000 items in a
 * file under MAX_FILE was copied over and over (docs/fuzzing.md). */
static int add_kid(struct ynode *parent, struct ynode *kid)
{
        if (parent->n == parent->cap) {
                size_t cap = parent->cap ? 2 * parent->cap : 8;
                struct ynode **k = realloc(parent->kids, cap * sizeof(*k));

                if (!k)
                        return -ENOMEM;
                parent->kids = k;
                parent->cap = cap;
        }
        parent->kids[parent->n++] = kid;
        return 0;
}

static int next_event(yaml_parser_t *p, yaml_event_t *ev, const char *name, struct ez_err *err)
{
        if (yaml_parser_parse(p, ev))
                return 0;
        return at(err, name, p->problem_mark.line + 1, p->problem_mark.column + 1, "%s%s%s",
                  p->problem ? p->problem : "not valid YAML", p->context ? " " : "", p->context ? p->context : "");
}

/* Build the node that starts with ev (consumed). */
static int build(yaml_parser_t *p, yaml_event_t *ev, int depth, const char *name, struct ynode **ret,
                 struct ez_err *err)
{
        struct ynode *y;
        yaml_event_type_t end;
        int r = 0;

        if (depth > MAX_DEPTH)
                return at(err, name, ev->start_mark.line + 1, ev->start_mark.column + 1, "nested too deeply");
        if (ev->type == YAML_ALIAS_EVENT)
                return at(err, name, ev->start_mark.line + 1, ev->start_mark.column + 1,
                          "aliases are not supported");
        y = calloc(1, sizeof(*y));
        if (!y)
                return ez_err_set(err, -ENOMEM, "out of memory");
        y->line = ev->start_mark.line + 1;
        y->col = ev->start_mark.column + 1;
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                y->kind = Y_SCALAR;
                y->len = ev->data.scalar.length;
                y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                y->value = malloc(y->len + 1);
                if (!y->value) {
                        ynode_free(y);
                        return ez_err_set(err, -ENOMEM, "out of memory");
                }
                memcpy(y->value, ev->data.scalar.value, y->len);
                y->value[y->len] = '\0';
                *ret = y;
                return 0;
        case YAML_SEQUENCE_START_EVENT:
                y->kind = Y_SEQ;
                end = YAML_SEQUENCE_END_EVENT;
                break;
        case YAML_MAPPING_START_EVENT:
                y->kind = Y_MAP;
                end = YAML_MAPPING_END_EVENT;
                break;
        default:
                ynode_free(y);
                return at(err, name, ev->start_mark.line + 1, ev->start_mark.column + 1, "unexpected YAML event");
        }
        for (;;) {
                yaml_event_t kid_ev;
                struct ynode *kid = NULL;

                r = next_event(p, &kid_ev, name, err);
                if (r < 0)
                        break;
                if (kid_ev.type == end) {
                        yaml_event_delete(&kid_ev);
                        break;
                }
                r = build(p, &kid_ev, depth + 1, name, &kid, err);
                yaml_event_delete(&kid_ev);
                if (r < 0)
                        break;
                r = add_kid(y, kid);
                if (r < 0) {
                        ynode_free(kid);
                        ez_err_set(err, r, "out of memory");
                        break;
                }
        }
        if (r < 0) {
                ynode_free(y);
                return r;
        }
        *ret = y;
        return 0;
}

/* The document's root node, or NULL for an empty file. */
static int load_tree(const char *name, const char *text, size_t len, struct ynode **ret, struct ez_err *err)
{
        yaml_parser_t p;
        yaml_event_t ev;
        struct ynode *root = NULL;
        int docs = 0, r;

        if (!yaml_parser_initialize(&p))
                return ez_err_set(err, -ENOMEM, "out of memory");
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        for (;;) {
                r = next_event(&p, &ev, name, err);
                if (r < 0)
                        break;
                if (ev.type == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
                        r = at(err, name, ev.start_mark.line + 1, ev.start_mark.column + 1,
                               "one document per file");
                        yaml_event_delete(&ev);
                        break;
                }
                if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
                    ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
                        r = build(&p, &ev, 0, name, &root, err);
                        yaml_event_delete(&ev);
                        if (r < 0)
                                break;
                        continue;
                }
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&p);
        if (r < 0) {
                ynode_free(root);
                return r;
        }
        *ret = root;
        return 0;
}

/* ------------------------------------------------------------------ */
/* values shared with the command line                                  */

int ez_config_parse_seconds(const char *s, long *ret)
{
        char *end;
        long v;

        if (!isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v > 10L * 365 * 24 * 3600)
                return -EINVAL;
        *ret = v;
        return 0;
}

int ez_config_parse_count(const char *s, long min, long max, long *ret)
{
        long v;

        if (ez_config_parse_seconds(s, &v) < 0 || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int ez_config_parse_seed_after(const char *s, long *ret)
{
        if (strcmp(s, "none") == 0) {
                *ret = EZ_CONFIG_SEED_NONE;
                return 0;
        }
        if (strcmp(s, "until-done") == 0) {
                *ret = EZ_CONFIG_SEED_UNTIL_DONE;
                return 0;
        }
        return ez_config_parse_seconds(s, ret);
}

/* The index of s in names (NULL-terminated), or -EINVAL. */
static int word_index(const char *s, const char *const *names)
{
        for (int i = 0; names[i]; i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        return -EINVAL;
}

int ez_config_parse_mode(const char *s, enum ez_config_mode *ret)
{
        static const char *const names[] = { "deploy", "seed", "verify", NULL };
        int i = word_index(s, names);

        if (i < 0)
                return i;
        *ret = (enum ez_config_mode)i;
        return 0;
}

int ez_config_parse_status_format(const char *s, bool *json)
{
        static const char *const names[] = { "none", "json", NULL };
        int i = word_index(s, names);

        if (i < 0)
                return i;
        *json = i == 1;
        return 0;
}

int ez_config_parse_verify(const char *s, enum ez_config_verify *ret)
{
        static const char *const names[] = { "data", "none", "full", NULL };
        int i = word_index(s, names);

        if (i < 0)
                return i;
        *ret = (enum ez_config_verify)i;
        return 0;
}

int ez_config_check_sha256(const char *s)
{
        size_t i;

        for (i = 0; i < 64; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return -EINVAL;
        return s[64] == '\0' ? 0 : -EINVAL;
}

int ez_config_check_rack(const char *s)
{
        size_t n = strlen(s), i;

        if (n == 0 || n > 64)
                return -EINVAL;
        for (i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("._-:/@", s[i]))
                        return -EINVAL;
        return 0;
}

int ez_config_check_hostport(const char *s)
{
        const char *colon, *p;
        char *end;
        long port;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close == s + 1 || close[1] != ':')
                        return -EINVAL;
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || colon == s)
                        return -EINVAL;
                for (p = s; p < colon; p++)
                        if (*p == ':' || isspace((unsigned char)*p))
                                return -EINVAL;
        }
        if (!isdigit((unsigned char)colon[1]))
                return -EINVAL;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || port < 0 || port > 65535)
                return -EINVAL;
        return 0;
}

int ez_config_check_cidr(const char *s)
{
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char buf[sizeof(struct in6_addr)];
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        int family, bits;
        long prefix;
        char *end;

        if (len == 0 || len >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, s, len);
        addr[len] = 0;
        family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        bits = family == AF_INET6 ? 128 : 32;
        if (inet_pton(family, addr, buf) != 1)
                return -EINVAL;
        if (!slash)
                return 0;
        if (!isdigit((unsigned char)slash[1]))
                return -EINVAL;
        errno = 0;
        prefix = strtol(slash + 1, &end, 10);
        if (errno || *end || prefix < 0 || prefix > bits)
                return -EINVAL;
        return 0;
}

void ez_config_clear_list(char **list, size_t *n)
{
        size_t i;

        for (i = 0; i < *n; i++) {
                free(list[i]);
                list[i] = NULL;
        }
        *n = 0;
}

int ez_config_set_sha256(char **field, const char *value)
{
        char *p;
        int r;

        if (ez_config_check_sha256(value) < 0)
                return -EINVAL;
        r = ez_config_set_str(field, value);
        if (r < 0)
                return r;
        for (p = *field; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return 0;
}

int ez_config_set_str(char **field, const char *value)
{
        char *copy = NULL;

        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

/* ------------------------------------------------------------------ */
/* the keys                                                             */

enum ktype {
        K_STR,          /* char * */
        K_SECRET,       /* char *, never echoed */
        K_SHA256,       /* char *, lowercased */
        K_MODE,         /* enum ez_config_mode */
        K_VERIFY,       /* enum ez_config_verify */
        K_LIST,         /* char *[EZ_CONFIG_MAX_LIST] + size_t count */
        K_PEERS,        /* the same, HOST:PORT each */
        K_CIDRS,        /* the same, ADDRESS[/PREFIX] each */
        K_HOSTPORT,     /* char *, HOST:PORT */
        K_SEED_AFTER,   /* long */
        K_SECONDS,      /* long */
        K_CONNECTIONS,  /* long, 1 .. 65535 */
        K_SLOTS,        /* long, 0 .. 65535 */
        K_RETRIES,      /* long, 0 .. 20 */
        K_RACK,         /* char *, ez_config_check_rack() */
        K_PREFIX,       /* long, 1 .. 128 */
        K_SIZE,         /* uint64_t */
        K_BOOL,         /* bool */
        K_FORMAT,       /* bool: json or none */
        K_HEADERS,      /* char *[EZ_CONFIG_MAX_LIST] + size_t count, from a mapping */
        K_SECTION,      /* a mapping, with a table of its own */
};

struct key {
        const char *name;
        enum ktype type;
        size_t off;             /* of the field in struct ez_config */
        size_t count_off;       /* K_LIST, K_PEERS, K_CIDRS, K_HEADERS: of the count */
        const struct key *section;
};

#define F(field) offsetof(struct ez_config, field)

static const struct key limits_keys[] = {
        { "connections", K_CONNECTIONS, F(max_connections), 0, NULL },
        { "upload_slots", K_SLOTS, F(upload_slots), 0, NULL },
        { "upload_rate", K_SIZE, F(upload_rate), 0, NULL },
        { "download_rate", K_SIZE, F(download_rate), 0, NULL },
        {}
};

static const struct key status_keys[] = {
        { "format", K_FORMAT, F(status_json), 0, NULL },
        { "file", K_STR, F(status_file), 0, NULL },
        {}
};

static const struct key http_keys[] = {
        { "headers", K_HEADERS, F(http.headers), F(http.n_headers), NULL },
        { "token", K_SECRET, F(http.token), 0, NULL },
        { "token_file", K_STR, F(http.token_file), 0, NULL },
        { "token_env", K_STR, F(http.token_env), 0, NULL },
        { "ca_file", K_STR, F(http.ca_file), 0, NULL },
        { "insecure", K_BOOL, F(http.insecure), 0, NULL },
        { "connect_timeout", K_SECONDS, F(http.connect_timeout), 0, NULL },
        { "timeout", K_SECONDS, F(http.timeout), 0, NULL },
        { "retries", K_RETRIES, F(http.retries), 0, NULL },
        { "max_size", K_SIZE, F(http.max_size), 0, NULL },
        {}
};

static const struct key root_keys[] = {
        { "torrent", K_STR, F(torrent), 0, NULL },
        { "torrent_sha256", K_SHA256, F(torrent_sha256), 0, NULL },
        { "target", K_STR, F(target), 0, NULL },
        { "payload", K_STR, F(payload), 0, NULL },
        { "mode", K_MODE, F(mode), 0, NULL },
        { "trackers", K_LIST, F(trackers), F(n_trackers), NULL },
        { "peers", K_PEERS, F(peers), F(n_peers), NULL },
        { "allow", K_CIDRS, F(allow), F(n_allow), NULL },
        { "listen", K_HOSTPORT, F(listen), 0, NULL },
        { "rack", K_RACK, F(rack), 0, NULL },
        { "rack_prefix", K_PREFIX, F(rack_prefix), 0, NULL },
        { "seed_after", K_SEED_AFTER, F(seed_after), 0, NULL },
        { "seed_timeout", K_SECONDS, F(seed_timeout), 0, NULL },
        { "timeout", K_SECONDS, F(timeout), 0, NULL },
        { "limits", K_SECTION, 0, 0, limits_keys },
        { "status", K_SECTION, 0, 0, status_keys },
        { "http", K_SECTION, 0, 0, http_keys },
        { "assume_zeroed", K_BOOL, F(assume_zeroed), 0, NULL },
        { "force_kind", K_BOOL, F(force_kind), 0, NULL },
        { "verify", K_VERIFY, F(verify), 0, NULL },
        { "ssl_cert", K_STR, F(ssl_cert), 0, NULL },
        { "ssl_key", K_STR, F(ssl_key), 0, NULL },
        { "ssl_key_password_file", K_STR, F(ssl_key_password_file), 0, NULL },
        {}
};

#undef F

struct ctx {
        const char *name;       /* file name, for messages */
        struct ez_config *c;
        struct ez_err *err;
};

static int bad(const struct ctx *x, const struct ynode *y, const char *path, const char *what)
{
        return at(x->err, x->name, y->line, y->col, "%s: %s", path, what);
}

static int want_scalar(const struct ctx *x, const struct ynode *y, const char *path)
{
        if (y->kind != Y_SCALAR)
                return bad(x, y, path, "expected a single value, not a list or mapping");
        if (y->plain && (y->len == 0 || strcmp(y->value, "~") == 0 || strcmp(y->value, "null") == 0))
                return bad(x, y, path, "has no value");
        if (strlen(y->value) != y->len)
                return bad(x, y, path, "contains a NUL character");
        return 0;
}

static int set_list(const struct ctx *x, const struct ynode *y, const char *path, enum ktype type, char **list,
                    size_t *count)
{
        size_t i;
        int r;

        if (y->kind != Y_SEQ)
                return bad(x, y, path, "expected a list");
        if (y->n > EZ_CONFIG_MAX_LIST)
                return bad(x, y, path, "more than 64 entries");
        ez_config_clear_list(list, count);
        for (i = 0; i < y->n; i++) {
                const struct ynode *item = y->kids[i];

                r = want_scalar(x, item, path);
                if (r < 0)
                        return r;
                if (type == K_PEERS && ez_config_check_hostport(item->value) < 0)
                        return bad(x, item, path, "expected HOST:PORT");
                if (type == K_CIDRS && ez_config_check_cidr(item->value) < 0)
                        return bad(x, item, path, "expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)");
                list[*count] = strdup(item->value);
                if (!list[*count])
                        return ez_err_set(x->err, -ENOMEM, "out of memory");
                (*count)++;
        }
        return 0;
}

static int set_headers(const struct ctx *x, const struct ynode *y, const char *path, char **list, size_t *count)
{
        size_t i, j;

        if (y->kind != Y_MAP)
                return bad(x, y, path, "expected a mapping of header names to values");
        if (y->n / 2 > EZ_CONFIG_MAX_LIST)
                return bad(x, y, path, "more than 64 headers");
        ez_config_clear_list(list, count);
        for (i = 0; i + 1 < y->n; i += 2) {
                const struct ynode *k = y->kids[i], *v = y->kids[i + 1];
                int r;

                r = want_scalar(x, k, path);
                if (r < 0)
                        return r;
                for (j = 0; j < k->len; j++)
                        if (!isgraph((unsigned char)k->value[j]) || k->value[j] == ':')
                                return bad(x, k, path, "a header name is letters, digits and punctuation, no ':'");
                r = want_scalar(x, v, path);
                if (r < 0)
                        return r;
                for (j = 0; j < v->len; j++)
                        if (v->value[j] == '\r' || v->value[j] == '\n')
                                return bad(x, v, path, "a header value is one line");
                if (asprintf(&list[*count], "%s: %s", k->value, v->value) < 0) {
                        list[*count] = NULL;
                        return ez_err_set(x->err, -ENOMEM, "out of memory");
                }
                (*count)++;
        }
        return 0;
}

static int apply(const struct ctx *x, const struct key *table, const struct ynode *map, const char *prefix);

static int set_key(const struct ctx *x, const struct key *k, const struct ynode *y, const char *path)
{
        char *base = (char *)x->c;
        long *lp = (long *)(base + k->off);
        int r;

        switch (k->type) {
        case K_SECTION:
                if (y->kind != Y_MAP)
                        return bad(x, y, path, "expected a mapping");
                return apply(x, k->section, y, path);
        case K_LIST:
        case K_PEERS:
        case K_CIDRS:
                return set_list(x, y, path, k->type, (char **)(base + k->off), (size_t *)(base + k->count_off));
        case K_HEADERS:
                return set_headers(x, y, path, (char **)(base + k->off), (size_t *)(base + k->count_off));
        default:
                break;
        }
        r = want_scalar(x, y, path);
        if (r < 0)
                return r;
        switch (k->type) {
        case K_STR:
        case K_SECRET:
                break;
        case K_SHA256:
                r = ez_config_set_sha256((char **)(base + k->off), y->value);
                if (r == -EINVAL)
                        return bad(x, y, path, "expected 64 hexadecimal digits");
                return r < 0 ? ez_err_set(x->err, r, "out of memory") : 0;
        case K_HOSTPORT:
                if (ez_config_check_hostport(y->value) < 0)
                        return bad(x, y, path, "expected ADDR:PORT");
                break;
        case K_MODE:
                if (ez_config_parse_mode(y->value, (enum ez_config_mode *)(base + k->off)) < 0)
                        return bad(x, y, path, "expected 'deploy', 'seed' or 'verify'");
                return 0;
        case K_VERIFY:
                if (ez_config_parse_verify(y->value, (enum ez_config_verify *)(base + k->off)) < 0)
                        return bad(x, y, path, "expected 'none', 'data' or 'full'");
                return 0;
        case K_SEED_AFTER:
                if (ez_config_parse_seed_after(y->value, lp) < 0)
                        return bad(x, y, path, "expected 'none', 'until-done' or a number of seconds");
                return 0;
        case K_SECONDS:
                if (ez_config_parse_seconds(y->value, lp) < 0)
                        return bad(x, y, path, "expected a number of seconds, from 0 to 10 years");
                return 0;
        case K_CONNECTIONS:
                if (ez_config_parse_count(y->value, 1, 65535, lp) < 0)
                        return bad(x, y, path, "expected a whole number from 1 to 65535");
                return 0;
        case K_SLOTS:
                if (ez_config_parse_count(y->value, 0, 65535, lp) < 0)
                        return bad(x, y, path, "expected a whole number from 0 to 65535");
                return 0;
        case K_RETRIES:
                if (ez_config_parse_count(y->value, 0, 20, lp) < 0)
                        return bad(x, y, path, "expected a whole number from 0 to 20");
                return 0;
        case K_RACK:
                if (ez_config_check_rack(y->value) < 0)
                        return bad(x, y, path, EZ_CONFIG_RACK_EXPECTED);
                break;
        case K_PREFIX:
                if (ez_config_parse_count(y->value, 1, 128, lp) < 0)
                        return bad(x, y, path, "expected a prefix length from 1 to 128");
                return 0;
        case K_SIZE:
                if (ez_units_parse_size(y->value, (uint64_t *)(base + k->off)) < 0)
                        return bad(x, y, path, "expected a number of bytes (K, M, G, T: powers of 1024; "
                                   "KB, MB, GB, TB: powers of 1000)");
                return 0;
        case K_BOOL:
                if (strcmp(y->value, "true") == 0 || strcmp(y->value, "yes") == 0)
                        *(bool *)(base + k->off) = true;
                else if (strcmp(y->value, "false") == 0 || strcmp(y->value, "no") == 0)
                        *(bool *)(base + k->off) = false;
                else
                        return bad(x, y, path, "expected true or false");
                return 0;
        case K_FORMAT:
                if (ez_config_parse_status_format(y->value, (bool *)(base + k->off)) < 0)
                        return bad(x, y, path, "expected 'json' or 'none'");
                return 0;
        default:
                return bad(x, y, path, "internal error: unhandled key type");
        }
        r = ez_config_set_str((char **)(base + k->off), y->value);
        return r < 0 ? ez_err_set(x->err, r, "out of memory") : 0;
}

/* Whether s holds no control character. */
static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static int apply(const struct ctx *x, const struct key *table, const struct ynode *map, const char *prefix)
{
        size_t i, j;

        for (i = 0; i + 1 < map->n; i += 2) {
                const struct ynode *k = map->kids[i], *v = map->kids[i + 1];
                const struct key *e;
                char path[128];
                int r;

                /* "torrent\0x" is not the key torrent; a control character
                 * would break the one line that names the key */
                if (k->kind != Y_SCALAR || strlen(k->value) != k->len || !printable(k->value))
                        return at(x->err, x->name, k->line, k->col, "a key must be a plain name");
                for (j = 0; j < i; j += 2)
                        if (map->kids[j]->kind == Y_SCALAR && strcmp(map->kids[j]->value, k->value) == 0)
                                return at(x->err, x->name, k->line, k->col, "'%s%s%s' given twice", prefix,
                                          *prefix ? "." : "", k->value);
                for (e = table; e->name && strcmp(e->name, k->value) != 0; e++)
                        ;
                snprintf(path, sizeof(path), "%s%s%.64s", prefix, *prefix ? "." : "", k->value);
                if (!e->name)
                        return at(x->err, x->name, k->line, k->col, "unknown key '%s'", path);
                r = set_key(x, e, v, path);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ------------------------------------------------------------------ */

void ez_config_init(struct ez_config *c)
{
        memset(c, 0, sizeof(*c));
        c->seed_after = EZ_CONFIG_SEED_NONE;
        c->upload_slots = EZ_CONFIG_UPLOAD_SLOTS;
        c->http.connect_timeout = 10;
        c->http.timeout = 30;
        c->http.retries = 3;
        c->http.max_size = 64u << 20;
}

int ez_config_parse(const char *name, const char *text, size_t len, struct ez_config *c, struct ez_err *err)
{
        struct ynode *root = NULL;
        struct ctx x = { name, c, err };
        int r;

        r = load_tree(name, text, len, &root, err);
        if (r < 0)
                return r;
        if (!root)
                return 0;       /* an empty file: nothing to change */
        if (root->kind != Y_MAP)
                r = at(err, name, root->line, root->col, "expected a mapping of settings (key: value)");
        else
                r = apply(&x, root_keys, root, "");
        ynode_free(root);
        return r;
}

int ez_config_load(const char *path, struct ez_config *c, struct ez_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = ez_io_read_file(path, MAX_FILE, &buf, &len, NULL);
        if (r == -EFBIG)
                return ez_err_set(err, r, "%s: larger than 1 MiB, not a node configuration", path);
        if (r < 0)
                return ez_err_set(err, r, "%s: %s", path, r == -EINVAL ? "not a regular file" : strerror(-r));
        return ez_config_parse(path, buf, len, c, err);
}

void ez_config_free(struct ez_config *c)
{
        if (!c)
                return;
        free(c->torrent);
        free(c->torrent_sha256);
        free(c->target);
        free(c->payload);
        ez_config_clear_list(c->trackers, &c->n_trackers);
        ez_config_clear_list(c->peers, &c->n_peers);
        ez_config_clear_list(c->allow, &c->n_allow);
        free(c->listen);
        free(c->rack);
        free(c->status_file);
        free(c->ssl_cert);
        free(c->ssl_key);
        free(c->ssl_key_password_file);
        ez_config_clear_list(c->http.headers, &c->http.n_headers);
        if (c->http.token)
                explicit_bzero(c->http.token, strlen(c->http.token));
        free(c->http.token);
        free(c->http.token_file);
        free(c->http.token_env);
        free(c->http.ca_file);
        ez_config_init(c);
}
