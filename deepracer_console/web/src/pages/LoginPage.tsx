// Log in (POST /api/auth/login), then back to the page that asked for it (?next=).
import { useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { ApiError, messageOf } from "../api";
import { useAuth } from "../components/Auth";

/** Only paths inside the console: a ?next= pointing elsewhere is ignored. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/models";
}

export default function LoginPage() {
  const auth = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<{ message: string; field?: string }>();
  const [busy, setBusy] = useState(false);

  if (auth.singleUser) return <Navigate to={next} replace />;

  async function submit() {
    if (!username || !password) {
      setError({ message: "Enter your username and password.", field: !username ? "username" : "password" });
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await auth.login(username, password);
      navigate(next, { replace: true });
    } catch (err) {
      setError({ message: messageOf(err), field: err instanceof ApiError ? err.field : undefined });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Box padding={{ top: "xxxl" }}>
      <div style={{ maxWidth: 440, margin: "0 auto" }}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            submit();
          }}
        >
          <Form
            actions={
              <Button variant="primary" formAction="submit" loading={busy} data-testid="login-submit">
                Log in
              </Button>
            }
          >
            <Container header={<Header variant="h1" description="Your account on this DeepRacer console. Ask an admin for one.">Log in</Header>}>
              <SpaceBetween size="m">
                {auth.me?.logged_in && auth.user && (
                  <Alert type="info">
                    You are logged in as {auth.user.username}. Log in again to switch accounts.
                  </Alert>
                )}
                {error && (
                  <Alert type="error" data-testid="login-error">
                    {error.message}
                  </Alert>
                )}
                <FormField label="Username">
                  <Input
                    value={username}
                    onChange={(e) => setUsername(e.detail.value)}
                    autoFocus
                    autoComplete="username"
                    invalid={error?.field === "username"}
                  />
                </FormField>
                <FormField label="Password">
                  <Input
                    type="password"
                    value={password}
                    onChange={(e) => setPassword(e.detail.value)}
                    autoComplete="current-password"
                    invalid={error?.field === "password"}
                  />
                </FormField>
              </SpaceBetween>
            </Container>
          </Form>
        </form>
      </div>
    </Box>
  );
}
