// Admins: the accounts (GET/POST /api/users, PUT /api/users/{id}) and each user's quota
// (GET/PUT /api/users/{id}/quota): create with a role, reset a password, pause, change the role.
import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { ApiError, api, messageOf } from "../api";
import { formatNumber, usePolled } from "../common";
import { ROLE_LABELS, useAuth } from "../components/Auth";
import type { Quota, QuotaDefaults, QuotaKind, QuotaUsage, Role, User } from "../types";

const ROLE_OPTIONS = (Object.keys(ROLE_LABELS) as Role[]).map((r) => ({ value: r, label: ROLE_LABELS[r] }));

export const QUOTA_LABELS: Record<QuotaKind, string> = {
  training_minutes_per_month: "Training minutes per month",
  evaluation_minutes_per_month: "Evaluation minutes per month",
  concurrent_jobs: "Concurrent jobs",
  models: "Models",
  storage_mb: "Storage (MB)",
};
const QUOTA_KINDS = Object.keys(QUOTA_LABELS) as QuotaKind[];

export function showLimit(limit: number): string {
  return limit < 0 ? "unlimited" : String(limit);
}

interface FieldError {
  message: string;
  field?: string;
}

function errorOf(err: unknown): FieldError {
  return { message: messageOf(err), field: err instanceof ApiError ? err.field : undefined };
}

function CreateUser({ onCreated }: { onCreated: (u: User) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("racer");
  const [error, setError] = useState<FieldError>();
  const [busy, setBusy] = useState(false);

  async function create() {
    setBusy(true);
    setError(undefined);
    try {
      const user = await api.post<User>("/api/users", { username, password, role });
      setUsername("");
      setPassword("");
      onCreated(user);
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        create();
      }}
    >
      <Form
        errorText={error && !error.field ? error.message : undefined}
        actions={
          <Button variant="primary" formAction="submit" loading={busy}>
            Create user
          </Button>
        }
      >
        <Container header={<Header variant="h2" description="Give the user their name and password; they can log in at once.">Create a user</Header>}>
          <ColumnLayout columns={3}>
            <FormField label="Username" errorText={error?.field === "username" ? error.message : undefined}>
              <Input value={username} onChange={(e) => setUsername(e.detail.value)} ariaLabel="New user's username" />
            </FormField>
            <FormField label="Password" constraintText="At least 8 characters." errorText={error?.field === "password" ? error.message : undefined}>
              <Input type="password" value={password} onChange={(e) => setPassword(e.detail.value)} ariaLabel="New user's password" />
            </FormField>
            <FormField label="Role" errorText={error?.field === "role" ? error.message : undefined}>
              <Select
                selectedOption={ROLE_OPTIONS.find((o) => o.value === role) ?? null}
                onChange={(e) => setRole(e.detail.selectedOption.value as Role)}
                options={ROLE_OPTIONS}
                ariaLabel="New user's role"
              />
            </FormField>
          </ColumnLayout>
        </Container>
      </Form>
    </form>
  );
}

function PasswordModal({ user, onClose }: { user: User; onClose: (message?: string) => void }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function save() {
    setBusy(true);
    setError(undefined);
    try {
      await api.put(`/api/users/${user.id}`, { password });
      onClose(`The password of ${user.username} was reset; their sessions ended.`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal
      visible
      onDismiss={() => onClose()}
      header={`Reset the password of ${user.username}`}
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={() => onClose()}>
              Cancel
            </Button>
            <Button variant="primary" loading={busy} onClick={save}>
              Reset password
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <FormField label="New password" constraintText="At least 8 characters. The user's sessions end." errorText={error}>
        <Input type="password" value={password} onChange={(e) => setPassword(e.detail.value)} ariaLabel="New password" />
      </FormField>
    </Modal>
  );
}

function QuotaModal({ user, onClose }: { user: User; onClose: (message?: string) => void }) {
  const quota = usePolled<Quota>(`/api/users/${user.id}/quota`);
  // the user's own limits; an empty field: the global default applies (sent as null)
  const [edits, setEdits] = useState<Partial<Record<QuotaKind, string>>>({});
  const [error, setError] = useState<FieldError>();
  const [busy, setBusy] = useState(false);

  function valueOf(kind: QuotaKind): string {
    if (edits[kind] !== undefined) return edits[kind] as string;
    const own = quota.data?.overrides?.[kind];
    return own === null || own === undefined ? "" : String(own);
  }

  async function save() {
    const body: Partial<Record<QuotaKind, number | null>> = {};
    for (const kind of QUOTA_KINDS) {
      const text = valueOf(kind).trim();
      const value = Number(text);
      if (text !== "" && (!Number.isInteger(value) || value < -1)) {
        setError({ message: "A whole number: -1 for unlimited, a limit of 0 or more, or empty for the default.", field: kind });
        return;
      }
      body[kind] = text === "" ? null : value;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.put<Quota>(`/api/users/${user.id}/quota`, body);
      onClose(`The quota of ${user.username} was saved.`);
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      visible
      onDismiss={() => onClose()}
      header={`Quota of ${user.username}`}
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={() => onClose()}>
              Cancel
            </Button>
            <Button variant="primary" loading={busy} onClick={save} disabled={!quota.data}>
              Save quota
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        {quota.error && <Alert type="error">{quota.error}</Alert>}
        {error && !error.field && <Alert type="error">{error.message}</Alert>}
        <Box variant="p">
          Leave a field empty for the global default; -1 is unlimited. Minutes count per calendar month (UTC){quota.data ? `, now ${quota.data.month}` : ""}.
        </Box>
        {QUOTA_KINDS.map((kind) => (
          <FormField
            key={kind}
            label={QUOTA_LABELS[kind]}
            description={
              quota.data
                ? `Used: ${formatNumber(quota.data.usage[kind], 1)} of ${showLimit(quota.data.limits[kind])} · default ${showLimit(quota.data.defaults?.[kind] ?? -1)}`
                : undefined
            }
            errorText={error?.field === kind ? error.message : undefined}
          >
            <Input
              type="number"
              inputMode="numeric"
              value={valueOf(kind)}
              placeholder={quota.data ? `default (${showLimit(quota.data.defaults?.[kind] ?? -1)})` : undefined}
              onChange={(e) => setEdits({ ...edits, [kind]: e.detail.value })}
              ariaLabel={QUOTA_LABELS[kind]}
            />
          </FormField>
        ))}
      </SpaceBetween>
    </Modal>
  );
}

/** The global default limits (GET/PUT /api/quotas/defaults); a user's own limit wins. */
function DefaultLimits({ onSaved }: { onSaved: (message: string) => void }) {
  const defaults = usePolled<QuotaDefaults>("/api/quotas/defaults");
  const [edits, setEdits] = useState<Partial<Record<QuotaKind, string>>>({});
  const [error, setError] = useState<FieldError>();
  const [busy, setBusy] = useState(false);
  const valueOf = (kind: QuotaKind) => edits[kind] ?? (defaults.data ? String(defaults.data.limits[kind]) : "");

  async function save() {
    const body: Partial<Record<QuotaKind, number>> = {};
    for (const kind of QUOTA_KINDS) {
      const value = Number(valueOf(kind).trim());
      if (valueOf(kind).trim() === "" || !Number.isInteger(value) || value < -1) {
        setError({ message: "A whole number: -1 for unlimited, or a limit of 0 or more.", field: kind });
        return;
      }
      body[kind] = value;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.put<QuotaDefaults>("/api/quotas/defaults", body);
      setEdits({});
      defaults.reload();
      onSaved("The default quotas were saved.");
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Container
      header={
        <Header
          variant="h2"
          description="What every user gets unless their own quota says otherwise. -1 is unlimited (DeepRacer on AWS's default)."
          actions={
            <Button onClick={save} loading={busy} disabled={!defaults.data}>
              Save defaults
            </Button>
          }
        >
          Default quotas
        </Header>
      }
    >
      {defaults.error && <Alert type="error">{defaults.error}</Alert>}
      {error && !error.field && <Alert type="error">{error.message}</Alert>}
      <ColumnLayout columns={5}>
        {QUOTA_KINDS.map((kind) => (
          <FormField key={kind} label={QUOTA_LABELS[kind]} errorText={error?.field === kind ? error.message : undefined}>
            <Input type="number" value={valueOf(kind)} onChange={(e) => setEdits({ ...edits, [kind]: e.detail.value })} ariaLabel={`Default ${QUOTA_LABELS[kind]}`} />
          </FormField>
        ))}
      </ColumnLayout>
    </Container>
  );
}

function thisMonth(): string {
  const now = new Date();
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** Every user's usage of a month (GET /api/quotas/usage) and its CSV export. */
function UsageTable({ tick }: { tick: number }) {
  const [month, setMonth] = useState(thisMonth);
  const valid = /^\d{4}-\d\d$/.test(month);
  const usage = usePolled<QuotaUsage>(valid ? `/api/quotas/usage?month=${month}&t=${tick}` : null, 15000);
  const cell = (limits: Record<QuotaKind, number>, used: Record<QuotaKind, number>, kind: QuotaKind) =>
    `${formatNumber(used[kind], 1)} / ${showLimit(limits[kind])}`;
  return (
    <Table
      data-testid="usage-table"
      items={usage.data?.users ?? []}
      loading={usage.loading && !usage.data}
      loadingText="Loading usage"
      wrapLines
      header={
        <Header
          description="Used / limit in force. Minutes are those of the month (UTC); jobs, models and storage are now."
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Input value={month} onChange={(e) => setMonth(e.detail.value)} ariaLabel="Month (YYYY-MM)" invalid={!valid} />
              <Button iconName="download" href={`/api/quotas/usage.csv?month=${month}`} download={`deepracer-usage-${month}.csv`} disabled={!valid}>
                Export CSV
              </Button>
            </SpaceBetween>
          }
        >
          Usage
        </Header>
      }
      empty={<Box textAlign="center">{usage.error ?? "No users."}</Box>}
      columnDefinitions={[
        { id: "username", header: "User", cell: (u) => u.username },
        { id: "role", header: "Role", cell: (u) => ROLE_LABELS[u.role] ?? u.role },
        ...QUOTA_KINDS.map((kind) => ({ id: kind, header: QUOTA_LABELS[kind], cell: (u: QuotaUsage["users"][number]) => cell(u.limits, u.usage, kind) })),
      ]}
    />
  );
}

export default function UsersPage() {
  const auth = useAuth();
  const users = usePolled<User[]>("/api/users");
  const [notice, setNotice] = useState<{ type: "success" | "error"; text: string }>();
  const [passwordFor, setPasswordFor] = useState<User>();
  const [quotaFor, setQuotaFor] = useState<User>();
  const [busy, setBusy] = useState<string>();

  async function update(user: User, change: Partial<{ role: Role; paused: boolean }>, done: string) {
    setBusy(`${user.id}`);
    setNotice(undefined);
    try {
      await api.put(`/api/users/${user.id}`, change);
      setNotice({ type: "success", text: done });
      users.reload();
    } catch (err) {
      setNotice({ type: "error", text: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  }

  const [usageTick, setUsageTick] = useState(0);
  const closeModal = (message?: string) => {
    setPasswordFor(undefined);
    setQuotaFor(undefined);
    if (message) {
      setNotice({ type: "success", text: message });
      setUsageTick((t) => t + 1);
    }
  };

  return (
    <ContentLayout header={<Header variant="h1" description="Accounts, roles and quotas. Racers train and race; race facilitators also create races; admins manage everything.">Users</Header>}>
      <SpaceBetween size="l">
        {notice && (
          <Alert type={notice.type} dismissible onDismiss={() => setNotice(undefined)} data-testid="users-notice">
            {notice.text}
          </Alert>
        )}
        {users.error && <Alert type="error" header="Could not load the users">{users.error}</Alert>}
        <CreateUser
          onCreated={(u) => {
            setNotice({ type: "success", text: `User ${u.username} created (${ROLE_LABELS[u.role]}).` });
            users.reload();
          }}
        />
        <Table
          data-testid="users-table"
          items={users.data ?? []}
          loading={users.loading}
          loadingText="Loading users"
          header={<Header counter={users.data ? `(${users.data.length})` : undefined}>Accounts</Header>}
          empty={<Box textAlign="center">No accounts yet.</Box>}
          columnDefinitions={[
            { id: "username", header: "Username", cell: (u) => u.username },
            {
              id: "role",
              header: "Role",
              minWidth: 200,
              cell: (u) => (
                <Select
                  selectedOption={ROLE_OPTIONS.find((o) => o.value === u.role) ?? null}
                  options={ROLE_OPTIONS}
                  disabled={busy === `${u.id}` || u.id === auth.user?.id}
                  ariaLabel={`Role of ${u.username}`}
                  onChange={(e) =>
                    update(u, { role: e.detail.selectedOption.value as Role }, `${u.username} is now ${e.detail.selectedOption.label}.`)
                  }
                />
              ),
            },
            {
              id: "status",
              header: "Status",
              cell: (u) => (u.paused ? <StatusIndicator type="stopped">Paused</StatusIndicator> : <StatusIndicator>Active</StatusIndicator>),
            },
            {
              id: "actions",
              header: "Actions",
              cell: (u) => (
                <SpaceBetween direction="horizontal" size="xs">
                  <Button
                    disabled={u.id === auth.user?.id}
                    loading={busy === `${u.id}`}
                    ariaLabel={`${u.paused ? "Unpause" : "Pause"} ${u.username}`}
                    onClick={() =>
                      update(u, { paused: !u.paused }, u.paused ? `${u.username} can log in again.` : `${u.username} is paused; their sessions ended.`)
                    }
                  >
                    {u.paused ? "Unpause" : "Pause"}
                  </Button>
                  <Button ariaLabel={`Reset the password of ${u.username}`} onClick={() => setPasswordFor(u)}>
                    Reset password
                  </Button>
                  <Button ariaLabel={`Quota of ${u.username}`} onClick={() => setQuotaFor(u)}>
                    Quota
                  </Button>
                </SpaceBetween>
              ),
            },
          ]}
        />
        <UsageTable tick={usageTick} />
        <DefaultLimits
          onSaved={(text) => {
            setNotice({ type: "success", text });
            setUsageTick((t) => t + 1);
          }}
        />
      </SpaceBetween>
      {passwordFor && <PasswordModal user={passwordFor} onClose={closeModal} />}
      {quotaFor && <QuotaModal user={quotaFor} onClose={closeModal} />}
    </ContentLayout>
  );
}
