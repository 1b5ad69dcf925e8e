/* auth.c — tokens, cookies, password hashing and the sign-in rate limiter
 * (auth.h), on libsodium.
 */
#include "auth.h"

#include <sodium.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool auth_init(void)
{
    return sodium_init() >= 0;
}

void auth_new_token(char out[AUTH_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, AUTH_TOKEN_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void auth_token_hash(const char *token, uint8_t out[AUTH_TOKEN_HASH_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

bool auth_token_well_formed(const char *token)
{
    size_t n = 0;
    for (; token[n]; n++) {
        char c = token[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_';
        if (!ok || n >= AUTH_TOKEN_LEN)
            return false;
    }
    return n == AUTH_TOKEN_LEN;
}

bool auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}

bool auth_cookie_token(const char *cookie_header, char *out, size_t cap)
{
    static const char name[] = AUTH_COOKIE_NAME "=";
    const char *p = cookie_header;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= sizeof name - 1 && memcmp(p, name, sizeof name - 1) == 0) {
            size_t value_len = len - (sizeof name - 1);
            if (value_len >= cap)
                value_len = cap - 1; /* cut: no longer well formed */
            memcpy(out, p + sizeof name - 1, value_len);
            out[value_len] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

void auth_session_cookie(char *out, size_t cap, const char *token, int64_t max_age, bool secure)
{
    snprintf(out, cap, AUTH_COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)max_age, secure ? "; Secure" : "");
}

void auth_clear_cookie(char *out, size_t cap, bool secure)
{
    snprintf(out, cap, AUTH_COOKIE_NAME "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s", secure ? "; Secure" : "");
}

bool auth_hash_password(const char *password, unsigned long long ops, size_t mem, char out[AUTH_PASSWORD_HASH_MAX])
{
    _Static_assert(AUTH_PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");
    return crypto_pwhash_str_alg(out, password, strlen(password), ops, mem, crypto_pwhash_ALG_ARGON2ID13) == 0;
}

bool auth_verify_password(const char *hash, const char *password)
{
    if (!hash[0])
        return false; /* the local user has no password */
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

bool auth_valid_name(const char *name, const char **hint)
{
    size_t n = strlen(name);
    if (n < AUTH_NAME_MIN || n > AUTH_NAME_MAX) {
        *hint = "a user name has 3 to 32 characters";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
            *hint = "a user name holds letters, digits, '_', '.' and '-', and starts with a letter or digit";
            return false;
        }
    }
    return true;
}

bool auth_valid_password(const char *password, const char **hint)
{
    size_t n = strlen(password);
    if (n < AUTH_PASSWORD_MIN) {
        *hint = "a password has at least 8 characters";
        return false;
    }
    if (n > AUTH_PASSWORD_MAX) {
        *hint = "a password has at most 1024 bytes";
        return false;
    }
    return true;
}

/* ---- the rate limiter ---------------------------------------------------- */

#define LIMIT_KEY_MAX 96
#define LIMIT_FAILURES_MAX 64   /* the most failures a window may allow */

typedef struct LimiterSlot {
    char key[LIMIT_KEY_MAX];    /* "" when free */
    int64_t failures[LIMIT_FAILURES_MAX]; /* ring of failure times */
    unsigned count, next;       /* failures held, next ring index */
    int64_t last;               /* latest failure, for eviction */
} LimiterSlot;

struct RateLimiter {
    pthread_mutex_t lock;
    unsigned max_failures, window, n_slots;
    LimiterSlot *slots;
};

RateLimiter *auth_limiter_new(unsigned max_failures, unsigned window, unsigned slots)
{
    if (max_failures == 0 || max_failures > LIMIT_FAILURES_MAX || slots == 0)
        return NULL;
    RateLimiter *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->slots = calloc(slots, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    l->max_failures = max_failures;
    l->window = window;
    l->n_slots = slots;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void auth_limiter_free(RateLimiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

static LimiterSlot *find_slot(RateLimiter *l, const char *key)
{
    for (unsigned i = 0; i < l->n_slots; i++)
        if (l->slots[i].key[0] && strncmp(l->slots[i].key, key, LIMIT_KEY_MAX - 1) == 0)
            return &l->slots[i];
    return NULL;
}

/* Failures of `slot` inside the window ending at `now`; the oldest of them
 * in *oldest. */
static unsigned recent_failures(const RateLimiter *l, const LimiterSlot *slot, int64_t now, int64_t *oldest)
{
    unsigned n = 0;
    *oldest = now;
    for (unsigned i = 0; i < slot->count; i++) {
        int64_t t = slot->failures[i];
        if (t > now - (int64_t)l->window) {
            n++;
            if (t < *oldest)
                *oldest = t;
        }
    }
    return n;
}

unsigned auth_limiter_wait(RateLimiter *l, const char *key, int64_t now)
{
    pthread_mutex_lock(&l->lock);
    unsigned wait = 0;
    LimiterSlot *slot = find_slot(l, key);
    int64_t oldest;
    if (slot && recent_failures(l, slot, now, &oldest) >= l->max_failures) {
        int64_t until = oldest + (int64_t)l->window - now;
        wait = until > 0 ? (unsigned)until : 1;
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

void auth_limiter_fail(RateLimiter *l, const char *key, int64_t now)
{
    pthread_mutex_lock(&l->lock);
    LimiterSlot *slot = find_slot(l, key);
    if (!slot) {
        /* A free slot, else the one whose last failure is oldest. */
        slot = &l->slots[0];
        for (unsigned i = 0; i < l->n_slots && slot->key[0]; i++)
            if (!l->slots[i].key[0] || l->slots[i].last < slot->last)
                slot = &l->slots[i];
        memset(slot, 0, sizeof *slot);
        snprintf(slot->key, sizeof slot->key, "%s", key);
    }
    slot->failures[slot->next] = now;
    slot->next = (slot->next + 1) % l->max_failures;
    if (slot->count < l->max_failures)
        slot->count++;
    slot->last = now;
    pthread_mutex_unlock(&l->lock);
}

void auth_limiter_forget(RateLimiter *l, const char *key)
{
    pthread_mutex_lock(&l->lock);
    LimiterSlot *slot = find_slot(l, key);
    if (slot)
        memset(slot, 0, sizeof *slot);
    pthread_mutex_unlock(&l->lock);
}
