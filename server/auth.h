/* auth.h — the pieces of authentication that are not endpoints: random
 * tokens and their hashes, the session cookie, constant-time comparison,
 * argon2id password hashing, name and password rules, and the sign-in rate
 * limiter. api.c and api_accounts.c use them; nothing here touches the
 * store or libmicrohttpd, so the unit tests call them in-process.
 *
 * Tokens are 32 random bytes (libsodium randombytes_buf) written as 43
 * characters of unpadded base64url. Session and share tokens are stored as
 * the SHA-256 of that text, so a copy of the database opens no session.
 */
#ifndef AMPD_AUTH_H
#define AMPD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_LEN 43           /* characters, without the NUL */
#define AUTH_TOKEN_HASH_BYTES 32    /* = STORE_TOKEN_HASH_BYTES */
#define AUTH_PASSWORD_HASH_MAX 160  /* an encoded argon2id hash, with the NUL */
#define AUTH_COOKIE_NAME "amp_session"

#define AUTH_NAME_MIN 3
#define AUTH_NAME_MAX 32            /* bytes */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024      /* bytes: argon2 takes any length; we cap the work */

/* Initialise libsodium; false when it cannot be used. Call once at start. */
bool auth_init(void);

/* A fresh random token, NUL-terminated. */
void auth_new_token(char out[AUTH_TOKEN_LEN + 1]);
/* SHA-256 of a token's text. */
void auth_token_hash(const char *token, uint8_t out[AUTH_TOKEN_HASH_BYTES]);
/* True when `token` has the shape of one of ours (length, alphabet). */
bool auth_token_well_formed(const char *token);
/* Compare two strings in time that depends only on their lengths. */
bool auth_equal(const char *a, const char *b);

/* The session token in a Cookie header; false when there is none. A
 * cookie that is present but malformed is copied too (the caller refuses
 * it as an invalid session). */
bool auth_cookie_token(const char *cookie_header, char *out, size_t cap);
/* Set-Cookie values: the session (HttpOnly, SameSite=Strict, Path=/,
 * Max-Age, and Secure when `secure`: ampd behind an HTTPS proxy), and one
 * that removes it. */
void auth_session_cookie(char *out, size_t cap, const char *token, int64_t max_age, bool secure);
void auth_clear_cookie(char *out, size_t cap, bool secure);

/* argon2id (libsodium crypto_pwhash_str_alg) with these limits; false when
 * out of memory. */
bool auth_hash_password(const char *password, unsigned long long ops, size_t mem,
                        char out[AUTH_PASSWORD_HASH_MAX]);
bool auth_verify_password(const char *hash, const char *password);

/* Names: AUTH_NAME_MIN..AUTH_NAME_MAX of [A-Za-z0-9_.-], starting with a
 * letter or digit. Passwords: AUTH_PASSWORD_MIN..AUTH_PASSWORD_MAX bytes.
 * On refusal *hint says why. */
bool auth_valid_name(const char *name, const char **hint);
bool auth_valid_password(const char *password, const char **hint);

/* ---- the sign-in rate limiter ------------------------------------------ */

/* A sliding window of failures per key ("account:NAME", "address:IP"): at
 * most `max_failures` within `window` seconds, kept in memory for the
 * `slots` most recently failing keys (the oldest is forgotten when a new
 * key needs room). Safe to use from every worker (one mutex). A restart
 * forgets the counts. */
typedef struct RateLimiter RateLimiter;

RateLimiter *auth_limiter_new(unsigned max_failures, unsigned window, unsigned slots);
void auth_limiter_free(RateLimiter *limiter);
/* 0 when `key` may try now, else the seconds until it may (Retry-After). */
unsigned auth_limiter_wait(RateLimiter *limiter, const char *key, int64_t now);
void auth_limiter_fail(RateLimiter *limiter, const char *key, int64_t now);
void auth_limiter_forget(RateLimiter *limiter, const char *key);

#endif
