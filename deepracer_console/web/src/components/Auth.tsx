// Who is logged in (GET /api/auth/me), login and logout for every page, and the rule "a 401
// anywhere sends the user to the login page and back to where they were".
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { Navigate, useLocation, useNavigate } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Spinner from "@cloudscape-design/components/spinner";
import { api, setCsrfToken, UNAUTHORIZED_EVENT } from "../api";
import type { LoginResult, Me, Role, User } from "../types";

export const ROLE_LABELS: Record<Role, string> = {
  racer: "Racer",
  race_facilitator: "Race facilitator",
  admin: "Admin",
};

export interface AuthState {
  me?: Me;
  user?: User;
  loading: boolean;
  /** Single-user mode (a laptop on 127.0.0.1 with no accounts): no login at all. */
  singleUser: boolean;
  managesRaces: boolean;
  isAdmin: boolean;
  login: (username: string, password: string) => Promise<User>;
  logout: () => Promise<void>;
  reload: () => Promise<void>;
}

const AuthContext = createContext<AuthState | undefined>(undefined);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}

/** "/login?next=..." for the page the user is on. */
export function loginHref(pathname: string, search: string): string {
  const next = pathname + search;
  return next && next !== "/" && !next.startsWith("/login") ? `/login?next=${encodeURIComponent(next)}` : "/login";
}

export function AuthProvider({ children }: { children: React.ReactNode }) {
  const [me, setMe] = useState<Me>();
  const [loading, setLoading] = useState(true);
  const navigate = useNavigate();

  const reload = useCallback(async () => {
    try {
      const value = await api.get<Me>("/api/auth/me");
      setCsrfToken(value.csrf_token);
      setMe(value);
    } catch {
      setMe({ logged_in: false, single_user: false, user: null });
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    reload();
  }, [reload]);

  // any API call answered 401 (the session ended, was revoked, or never existed): log in again
  useEffect(() => {
    const onUnauthorized = () => {
      setCsrfToken(undefined);
      setMe({ logged_in: false, single_user: false, user: null });
      if (!window.location.pathname.startsWith("/login")) {
        navigate(loginHref(window.location.pathname, window.location.search), { replace: true });
      }
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [navigate]);

  const login = useCallback(async (username: string, password: string) => {
    const result = await api.post<LoginResult>("/api/auth/login", { username, password });
    setCsrfToken(result.csrf_token);
    setMe({ logged_in: true, single_user: false, user: result.user, csrf_token: result.csrf_token });
    return result.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.post("/api/auth/logout");
    } finally {
      setCsrfToken(undefined);
      setMe({ logged_in: false, single_user: false, user: null });
      navigate("/login", { replace: true });
    }
  }, [navigate]);

  const value = useMemo<AuthState>(() => {
    const user = me?.user ?? undefined;
    const role = user?.role;
    return {
      me,
      user,
      loading,
      singleUser: !!me?.single_user,
      managesRaces: role === "admin" || role === "race_facilitator",
      isAdmin: role === "admin",
      login,
      logout,
      reload,
    };
  }, [me, loading, login, logout, reload]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** A page that needs an account: to the login page (and back) when nobody is logged in. */
export function RequireLogin({ children, role }: { children: React.ReactNode; role?: "facilitator" | "admin" }) {
  const auth = useAuth();
  const location = useLocation();
  if (auth.loading) return <Spinner size="large" />;
  if (!auth.me?.logged_in) return <Navigate to={loginHref(location.pathname, location.search)} replace />;
  if ((role === "admin" && !auth.isAdmin) || (role === "facilitator" && !auth.managesRaces)) {
    return <Forbidden what={role === "admin" ? "admins" : "race facilitators and admins"} />;
  }
  return <>{children}</>;
}

function Forbidden({ what }: { what: string }) {
  return (
    <Alert type="error" header="403: not allowed" data-testid="forbidden">
      This page is for {what} only.
    </Alert>
  );
}
