/* api_accounts.c — accounts and sessions, and what the database runs with.
 *
 *   GET  /api/account           the caller: {"user": {...}, "csrf": token}   200, 401
 *   POST /api/account/signup    {"name", "password"} -> signed in            201, 400, 409
 *   POST /api/account/signin    {"name", "password"} -> signed in            200, 400, 401, 429
 *   POST /api/account/signout   ends this session                            204
 *   POST /api/account/password  {"password", "new_password"}; the user's
 *                               other sessions are revoked                  200, 400, 401, 403
 *   GET  /api/storage           {"journal_mode", "synchronous", "schema_version"}  200
 *
 * Signing in sets the session cookie (auth.h: HttpOnly, SameSite=Strict,
 * Path=/) and returns the session's CSRF token, which every later write
 * sends in X-CSRF-Token. Passwords are hashed with argon2id on a worker
 * (api.h), never on the event loop. Sign-in failures are counted per
 * account name and per address (auth.h's RateLimiter); past the limit the
 * answer is 429 with Retry-After, before the password is even checked. An
 * unknown name costs the same argon2id verification as a wrong password.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The name of the local user (--local); nobody can sign up under it. */
#define LOCAL_USER_NAME "local"

static json_t *user_json(const StoreUser *user)
{
    return json_pack("{s:s,s:b}", "name", user->name, "local", user->local);
}

/* Reply `status` with the user and the CSRF token of a new session. */
static void start_session(ApiCall *call, StoreConn *db, const StoreUser *user, unsigned status)
{
    char token[AUTH_TOKEN_LEN + 1], csrf[AUTH_TOKEN_LEN + 1];
    auth_new_token(token);
    auth_new_token(csrf);
    uint8_t hash[AUTH_TOKEN_HASH_BYTES];
    auth_token_hash(token, hash);
    int64_t now = api_now();
    StoreSession session;
    StoreStatus st = store_session_create(db, user->id, hash, csrf, now, now + api_settings.session_lifetime,
                                          &session);
    if (st != STORE_OK) {
        api_store_error(call, STORE_ERROR);
        return;
    }
    auth_session_cookie(call->set_cookie, sizeof call->set_cookie, token, api_settings.session_lifetime,
                        api_settings.secure_cookies);
    api_reply(call, status, json_pack("{s:o,s:s,s:I}", "user", user_json(user), "csrf", csrf, "expires_at",
                                      (json_int_t)session.expires_at));
}

/* The name and password of a sign-up or sign-in body; false with the
 * reply set. `body` owns the strings. */
static bool read_credentials(ApiCall *call, json_t *body, const char **name, const char **password)
{
    *name = api_string_member(call, body, "name", AUTH_NAME_MAX * 4, true);
    if (!*name)
        return false;
    *password = api_string_member(call, body, "password", AUTH_PASSWORD_MAX, true);
    return *password != NULL;
}

/* ---- GET /api/account ----------------------------------------------------- */

static void account_get(ApiCall *call, StoreConn *db)
{
    json_t *body = json_pack("{s:o,s:s}", "user", user_json(&call->user), "csrf", call->session.csrf);
    if (call->session.id)
        json_object_set_new(body, "expires_at", json_integer(call->session.expires_at));
    api_reply(call, MHD_HTTP_OK, body);
}

enum MHD_Result api_account_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, account_get, API_USER, NULL, 0);
}

/* ---- POST /api/account/signup ---------------------------------------------- */

static void account_signup(ApiCall *call, StoreConn *db)
{
    json_t *body = api_body_object(call);
    const char *name, *password, *hint;
    if (!body || !read_credentials(call, body, &name, &password)) {
        json_decref(body);
        return;
    }
    if (!auth_valid_name(name, &hint) || !auth_valid_password(password, &hint)) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_credentials_format", hint);
        json_decref(body);
        return;
    }
    StoreUser user;
    StoreStatus st = STORE_CONFLICT;
    char hash[AUTH_PASSWORD_HASH_MAX];
    if (strcasecmp(name, LOCAL_USER_NAME) != 0) {
        if (!auth_hash_password(password, api_settings.argon_ops, api_settings.argon_mem, hash)) {
            api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "out of memory hashing the password");
            json_decref(body);
            return;
        }
        st = store_user_create(db, name, hash, false, api_now(), &user);
    }
    json_decref(body);
    if (st == STORE_CONFLICT)
        api_error(call, MHD_HTTP_CONFLICT, "name_taken", "that user name is taken");
    else if (st != STORE_OK)
        api_store_error(call, st);
    else
        start_session(call, db, &user, MHD_HTTP_CREATED);
}

enum MHD_Result api_account_signup(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, account_signup, API_WRITE, NULL, 0);
}

/* ---- POST /api/account/signin ---------------------------------------------- */

/* 429 when the account or the address has failed too often lately. */
static bool signin_limited(ApiCall *call, const char *account_key, const char *address_key, int64_t now)
{
    unsigned wait_account = auth_limiter_wait(api_settings.signin_by_account, account_key, now);
    unsigned wait_address = auth_limiter_wait(api_settings.signin_by_address, address_key, now);
    unsigned wait = wait_account > wait_address ? wait_account : wait_address;
    if (!wait)
        return false;
    api_error(call, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
              "too many failed sign-ins; wait for the time in Retry-After");
    call->retry_after = wait;
    return true;
}

static void limiter_keys(ApiCall *call, const char *name, char *account_key, size_t alen, char *address_key,
                         size_t blen)
{
    snprintf(account_key, alen, "account:");
    size_t n = strlen(account_key);
    for (size_t i = 0; name[i] && n + 1 < alen; i++) /* names compare without ASCII case */
        account_key[n++] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    account_key[n] = '\0';
    snprintf(address_key, blen, "address:%s", call->address);
}

static void account_signin(ApiCall *call, StoreConn *db)
{
    json_t *body = api_body_object(call);
    const char *name, *password;
    if (!body || !read_credentials(call, body, &name, &password)) {
        json_decref(body);
        return;
    }
    char account_key[96], address_key[96];
    limiter_keys(call, name, account_key, sizeof account_key, address_key, sizeof address_key);
    int64_t now = api_now();
    if (signin_limited(call, account_key, address_key, now)) {
        json_decref(body);
        return;
    }
    StoreUser user;
    StoreStatus st = store_user_by_name(db, name, &user);
    if (st == STORE_ERROR) {
        api_store_error(call, st);
        json_decref(body);
        return;
    }
    /* Unknown names verify against a dummy hash: the same work, the same time. */
    bool ok = auth_verify_password(st == STORE_OK ? user.password_hash : api_settings.dummy_hash, password);
    json_decref(body);
    if (!ok || st != STORE_OK) {
        auth_limiter_fail(api_settings.signin_by_account, account_key, now);
        auth_limiter_fail(api_settings.signin_by_address, address_key, now);
        api_error(call, MHD_HTTP_UNAUTHORIZED, "bad_credentials", "unknown user name or wrong password");
        return;
    }
    auth_limiter_forget(api_settings.signin_by_account, account_key);
    start_session(call, db, &user, MHD_HTTP_OK);
}

enum MHD_Result api_account_signin(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, account_signin, API_WRITE, NULL, 0);
}

/* ---- POST /api/account/signout ---------------------------------------------- */

static void account_signout(ApiCall *call, StoreConn *db)
{
    if (call->session.id) {
        StoreStatus st = store_session_delete(db, call->session.id);
        if (st == STORE_ERROR) {
            api_store_error(call, st);
            return;
        }
    }
    auth_clear_cookie(call->set_cookie, sizeof call->set_cookie, api_settings.secure_cookies);
    api_reply(call, MHD_HTTP_NO_CONTENT, NULL);
}

enum MHD_Result api_account_signout(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, account_signout, API_USER | API_WRITE, NULL, 0);
}

/* ---- POST /api/account/password ---------------------------------------------- */

static void account_password(ApiCall *call, StoreConn *db)
{
    if (call->user.local) {
        api_error(call, MHD_HTTP_FORBIDDEN, "local_user", "the local user has no password");
        return;
    }
    json_t *body = api_body_object(call);
    if (!body)
        return;
    const char *current = api_string_member(call, body, "password", AUTH_PASSWORD_MAX, true);
    const char *next = current ? api_string_member(call, body, "new_password", AUTH_PASSWORD_MAX, true) : NULL;
    const char *hint;
    if (!next) {
        json_decref(body);
        return;
    }
    if (!auth_valid_password(next, &hint)) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_credentials_format", hint);
        json_decref(body);
        return;
    }
    char account_key[96], address_key[96];
    limiter_keys(call, call->user.name, account_key, sizeof account_key, address_key, sizeof address_key);
    int64_t now = api_now();
    if (signin_limited(call, account_key, address_key, now)) {
        json_decref(body);
        return;
    }
    if (!auth_verify_password(call->user.password_hash, current)) {
        auth_limiter_fail(api_settings.signin_by_account, account_key, now);
        auth_limiter_fail(api_settings.signin_by_address, address_key, now);
        api_error(call, MHD_HTTP_FORBIDDEN, "bad_credentials", "the current password is wrong");
        json_decref(body);
        return;
    }
    char hash[AUTH_PASSWORD_HASH_MAX];
    bool hashed = auth_hash_password(next, api_settings.argon_ops, api_settings.argon_mem, hash);
    json_decref(body);
    if (!hashed) {
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "out of memory hashing the password");
        return;
    }
    StoreStatus st = store_user_set_password(db, call->user.id, hash, call->session.id);
    if (st != STORE_OK) {
        api_store_error(call, STORE_ERROR);
        return;
    }
    api_reply(call, MHD_HTTP_OK, json_pack("{s:b,s:s}", "ok", 1, "csrf", call->session.csrf));
}

enum MHD_Result api_account_password(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, account_password, API_USER | API_WRITE, NULL, 0);
}

/* ---- GET /api/storage ---------------------------------------------------------- */

static void storage_get(ApiCall *call, StoreConn *db)
{
    char journal[32], synchronous[32];
    if (store_settings(db, journal, sizeof journal, synchronous, sizeof synchronous) != STORE_OK) {
        api_store_error(call, STORE_ERROR);
        return;
    }
    api_reply(call, MHD_HTTP_OK,
              json_pack("{s:s,s:s,s:i}", "journal_mode", journal, "synchronous", synchronous, "schema_version",
                        store_schema_version(api_settings.store)));
}

enum MHD_Result api_storage_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, storage_get, 0, NULL, 0);
}
