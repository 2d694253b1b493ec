// The console's JSON API (/api/*; its OpenAPI is at /api/openapi.json). Errors carry the
// server's `detail` and, where one field is at fault, that field's name, so pages can show
// the message next to the field.

export class ApiError extends Error {
  readonly status: number;
  readonly field?: string;

  constructor(status: number, message: string, field?: string) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

interface PydanticIssue {
  loc?: (string | number)[];
  msg?: string;
}

/** The field path FastAPI/pydantic reports, without the leading "body". */
function fieldOf(loc: (string | number)[] | undefined): string | undefined {
  if (!loc) return undefined;
  const parts = loc.filter((p, i) => !(i === 0 && (p === "body" || p === "query" || p === "path")));
  return parts.length ? parts.join(".") : undefined;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let field: string | undefined;
  try {
    const body = await response.json();
    const detail = body?.detail;
    if (typeof detail === "string") {
      message = detail;
      field = body.field ?? undefined;
    } else if (Array.isArray(detail) && detail.length) {
      const first = detail[0] as PydanticIssue;
      field = fieldOf(first.loc);
      message = first.msg ?? message;
    } else if (detail && typeof detail === "object") {
      message = detail.message ?? detail.msg ?? JSON.stringify(detail);
      field = detail.field ?? fieldOf(detail.loc);
    }
    if (!field && typeof body?.field === "string") field = body.field;
  } catch {
    // not JSON: keep the status line
  }
  // "action_space[3].speed" -> "action_space.3.speed": one spelling for the pages' field keys
  return new ApiError(response.status, message, field?.replace(/\[(\d+)\]/g, ".$1"));
}

// The session's CSRF token (the login response's `csrf_token`, or GET /api/auth/me's after a
// reload): sent as X-CSRF-Token on every state-changing call. The session cookie itself is
// HttpOnly; the browser sends it.
let csrfToken: string | undefined;

export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? undefined;
}

/** Fired on a 401 from any call but the auth calls themselves: the app sends the user to log in. */
export const UNAUTHORIZED_EVENT = "deepracer:unauthorized";
const AUTH_PATHS = ["/api/auth/login", "/api/auth/me", "/api/auth/logout"];

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "HEAD" && csrfToken) {
    (init.headers as Record<string, string>)["X-CSRF-Token"] = csrfToken;
  }
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !AUTH_PATHS.some((p) => path.startsWith(p))) {
    window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("Content-Type") ?? "";
  return (type.includes("json") ? response.json() : response.text()) as Promise<T>;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  upload: <T>(path: string, form: FormData) => request<T>("POST", path, form),
  delete: <T>(path: string) => request<T>("DELETE", path),
};

/** The server's message for any error a call may throw. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
