// Your account: who you are, your role, and your quota with this month's usage
// (GET /api/users/{id}/quota), so a racer knows what is left before a job is refused.
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { formatNumber, usePolled } from "../common";
import { ROLE_LABELS, useAuth } from "../components/Auth";
import type { Quota, QuotaKind } from "../types";
import { QUOTA_LABELS, showLimit } from "./UsersPage";

export default function AccountPage() {
  const auth = useAuth();
  const user = auth.user;
  const quota = usePolled<Quota>(user?.id ? `/api/users/${user.id}/quota` : null, 10000);
  if (!user) return null;
  return (
    <ContentLayout header={<Header variant="h1">Your account</Header>}>
      <SpaceBetween size="l">
        <Container>
          <ColumnLayout columns={2} variant="text-grid">
            <div>
              <Box variant="awsui-key-label">Username</Box>
              <div>{user.username}</div>
            </div>
            <div>
              <Box variant="awsui-key-label">Role</Box>
              <div>{ROLE_LABELS[user.role] ?? user.role}</div>
            </div>
          </ColumnLayout>
        </Container>
        {user.id !== null && (
          <Container
            header={
              <Header variant="h2" description={`What you may use${quota.data ? ` in ${quota.data.month} (UTC)` : ""}. A job over a limit is refused with the usage; an admin can change the limits.`}>
                Your quota
              </Header>
            }
          >
            {quota.error && <Alert type="error">{quota.error}</Alert>}
            {quota.data && (
              <ColumnLayout columns={1} data-testid="my-quota">
                {(Object.keys(QUOTA_LABELS) as QuotaKind[]).map((kind) => {
                  const limit = quota.data!.limits[kind];
                  const used = quota.data!.usage[kind] ?? 0;
                  return limit < 0 ? (
                    <div key={kind}>
                      <Box variant="awsui-key-label">{QUOTA_LABELS[kind]}</Box>
                      <div>
                        {formatNumber(used, 1)} used · unlimited
                      </div>
                    </div>
                  ) : (
                    <ProgressBar
                      key={kind}
                      label={QUOTA_LABELS[kind]}
                      value={limit > 0 ? Math.min(100, (used / limit) * 100) : 100}
                      additionalInfo={`${formatNumber(used, 1)} of ${showLimit(limit)}`}
                      status={used >= limit ? "error" : "in-progress"}
                      resultText={`${formatNumber(used, 1)} of ${showLimit(limit)}: limit reached`}
                    />
                  );
                })}
              </ColumnLayout>
            )}
          </Container>
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
