// Type-level checks of the TypeScript client generated from turnstile's OpenAPI
// document (openapi-typescript + openapi-fetch). Where the server is exact, the
// generated types must be exact too: `tsc --strict` fails when a line below stops
// compiling, and when a `@ts-expect-error` line starts compiling (a type went loose).
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema";

type S = components["schemas"];

// Fields the server always sends are required; nullable ones say so.
export const user: S["UserView"] = {
  id: 1,
  email: "alice@example.com",
  role: "user",
  disabled: false,
  email_verified: false,
  mfa_enabled: false,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  last_login_at: null,
};
// @ts-expect-error last_login_at is always sent (null before the first login)
export const userWithoutLastLogin: S["UserView"] = {
  id: 1,
  email: "alice@example.com",
  role: "user",
  disabled: false,
  email_verified: false,
  mfa_enabled: false,
  created_at: "",
  updated_at: "",
};
// A role is any role name (roles are data), never a number.
export const customRole: S["UserView"]["role"] = "support";
// @ts-expect-error role names are strings
export const badRole: S["UserView"]["role"] = 5;

// The profile adds the caller's effective permissions.
export const profile: S["ProfileView"] = { ...user, permissions: ["users:read"] };
// @ts-expect-error permissions are always sent
export const profileWithoutPermissions: S["ProfileView"] = { ...user };

// Roles and the catalogue.
export const role: S["RoleView"] = {
  name: "support",
  description: "",
  permissions: ["users:read", "audit:read"],
  builtin: false,
  users: 0,
  created_at: "",
  updated_at: "",
};
// @ts-expect-error `users` (the holder count) is always sent
export const roleWithoutCount: S["RoleView"] = { name: "x", description: "", permissions: [], builtin: false, created_at: "", updated_at: "" };
export const roles: S["RoleList"]["items"] = [role];
export const catalogue: S["PermissionList"]["items"] = [{ name: "users:read", description: "", builtin: true }];

// Audit events: actor, target and ip always present (maybe null); detail is an
// object with any keys; the action is one of a fixed set.
export const event: S["AuditEventView"] = {
  id: 1,
  at: "2026-01-01T00:00:00Z",
  actor_id: null,
  action: "login_failure",
  target_id: null,
  ip: null,
  detail: { reason: "invalid_credentials", malformed_email: true },
};
// @ts-expect-error actions are a fixed set
export const badAction: S["AuditEventView"]["action"] = "did_something";
// @ts-expect-error actor_id is always sent
export const eventWithoutActor: S["AuditEventView"] = {
  id: 1,
  at: "",
  action: "logout",
  target_id: null,
  ip: null,
  detail: {},
};

export const session: S["SessionView"] = {
  id: "s",
  created_at: "",
  last_used_at: "",
  expires_at: "",
  user_agent: null,
  ip: null,
  current: true,
};
// @ts-expect-error user_agent is always sent
export const sessionWithoutAgent: S["SessionView"] = { id: "s", created_at: "", last_used_at: "", expires_at: "", ip: null, current: true };

// Errors carry one of a fixed set of codes.
export const err: S["ErrorBody"] = { error: "invalid_credentials", message: "invalid email or password" };
// @ts-expect-error unknown error codes do not type-check
export const badErr: S["ErrorBody"] = { error: "oops", message: "m" };

// Fixed values.
export const tokenType: S["TokenPairView"]["token_type"] = "Bearer";
// @ts-expect-error token_type is always "Bearer"
export const badTokenType: S["TokenPairView"]["token_type"] = "bearer";
export const status: S["Health"]["status"] = "ok";
// @ts-expect-error the probes only ever say "ok"
export const badStatus: S["Ready"]["database"] = "fine";

// Pages reference their items' schema instead of repeating it inline.
export const users: S["UserPage"]["items"] = [user];
export const events: S["AuditPage"]["items"] = [event];
// The next page's cursor, or null on the last page; whether the total stopped at 10,000.
export const cursor: S["UserPage"]["next_cursor"] = null;
export const capped: S["AuditPage"]["total_capped"] = true;
// @ts-expect-error total_capped is a boolean
export const badCapped: S["UserPage"]["total_capped"] = "yes";

// Requests through openapi-fetch.
const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

export async function calls(): Promise<void> {
  await client.GET("/api/admin/users", {
    params: { query: { page: 2, per_page: 50, q: "example", role: "admin" } },
  });
  await client.GET("/api/admin/audit", { params: { query: { cursor: "YTE6NDI", action: "logout" } } });
  // @ts-expect-error a role filter is a name, not a number
  await client.GET("/api/admin/users", { params: { query: { role: 5 } } });
  await client.POST("/api/admin/roles", { body: { name: "support", permissions: ["users:read"] } });
  // @ts-expect-error a new role names its permissions
  await client.POST("/api/admin/roles", { body: { name: "support" } });
  await client.PATCH("/api/admin/roles/{name}", { params: { path: { name: "support" } }, body: { permissions: [] } });
  // @ts-expect-error an absent page is left out, never null
  await client.GET("/api/admin/users", { params: { query: { page: null } } });
  await client.GET("/api/admin/audit", { params: { query: { actor_id: 1, since: "2026-01-01T00:00:00Z" } } });
  // Account recovery: the 202 body is an empty object; the admin's link is typed.
  const asked = await client.POST("/auth/password-reset", { body: { email: "a@example.com" } });
  if (asked.data) {
    const empty: S["Accepted"] = asked.data;
    void empty;
  }
  await client.POST("/auth/password-reset/confirm", { body: { token: "t", new_password: "a long password" } });
  const handed = await client.POST("/api/admin/users/{id}/password-reset", {
    params: { path: { id: 1 } },
    body: { send_email: false },
  });
  if (handed.data && "reset_link" in handed.data) {
    const link: string = handed.data.reset_link;
    void link;
  }
  // The logout body is optional, and never null.
  await client.POST("/auth/logout", {});
  await client.POST("/auth/logout", { body: { refresh_token: "r" } });
  // @ts-expect-error the logout body is an object or nothing
  await client.POST("/auth/logout", { body: null });
  const { data, error } = await client.POST("/auth/login", {
    body: { email: "alice@example.com", password: "correct horse battery" },
  });
  if (data) {
    const seconds: number = data.expires_in;
    const who: S["UserView"] = data.user;
    void [seconds, who];
  }
  if (error) {
    const code: S["ErrorCode"] = error.error;
    void code;
    // With mfa_required the login goes on at /auth/mfa with the token it carries.
    if ("mfa_token" in error && error.mfa_token !== undefined) {
      const seconds: number | undefined = error.expires_in;
      const next = await client.POST("/auth/mfa", { body: { mfa_token: error.mfa_token, code: "123456" } });
      if (next.data) {
        const access: string = next.data.access_token;
        void [seconds, access];
      }
    }
  }
  // MFA enrollment: a secret and its URI, then ten recovery codes.
  const enrolled = await client.POST("/api/profile/mfa/totp", {});
  if (enrolled.data) {
    const uri: string = enrolled.data.otpauth_uri;
    const secret: string = enrolled.data.secret;
    void [uri, secret];
  }
  const confirmed = await client.POST("/api/profile/mfa/totp/confirm", { body: { code: "123456" } });
  if (confirmed.data) {
    const codes: string[] = confirmed.data.recovery_codes;
    void codes;
  }
  // @ts-expect-error turning MFA off takes the password too
  await client.POST("/api/profile/mfa/disable", { body: { code: "123456" } });
  const page = await client.GET("/api/admin/users/{id}", { params: { path: { id: 7 } } });
  if (page.data) {
    const lastLogin: string | null = page.data.last_login_at;
    void lastLogin;
  }
}
