// Model page: settings, training graph and live view while it trains, stop, evaluate (results
// and video), log analysis report, the job's log, download, clone and delete.
import { useEffect, useMemo, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ButtonDropdown from "@cloudscape-design/components/button-dropdown";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import Header from "@cloudscape-design/components/header";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import Tabs from "@cloudscape-design/components/tabs";
import { api, messageOf } from "../api";
import { ACTIVE_STATUSES, formatDate, formatLapTime, formatNumber, formatPercent, ModelStatusIndicator, usePolled } from "../common";
import ActionSpaceFan from "../components/ActionSpaceFan";
import EvaluationPanel from "../components/EvaluationPanel";
import LiveView from "../components/LiveView";
import RewardEditor from "../components/RewardEditor";
import TrainingGraph from "../components/TrainingGraph";
import { HYPERPARAMETER_LABELS, LOSS_TYPE_LABELS } from "../defaults";
import type { DiscreteAction, Metrics, ModelDetail, ModelStatus } from "../types";

const DIRECTION_LABELS: Record<string, string> = { counterclockwise: "Counterclockwise", clockwise: "Clockwise" };
const RACE_TYPE_LABELS: Record<string, string> = { time_trial: "Time trial", object_avoidance: "Object avoidance", head_to_bot: "Head-to-bot" };

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Box variant="awsui-key-label">{label}</Box>
      <div>{children}</div>
    </div>
  );
}

/** Trained time; while it trains, the time since it started. */
function trainingTime(model: ModelDetail): string {
  let seconds = model.trained_seconds;
  if (ACTIVE_STATUSES.includes(model.status) && model.started_at) {
    seconds = Math.max(seconds, (Date.now() - new Date(model.started_at).getTime()) / 1000);
  }
  const minutes = Math.floor(seconds / 60);
  return minutes ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

function Settings({ model }: { model: ModelDetail }) {
  const defaults = usePolled<{ networks?: { name: string; label?: string }[] }>("/api/defaults");
  const networkLabel = defaults.data?.networks?.find((n) => n.name === model.network)?.label ?? model.network;
  const discrete = Array.isArray(model.action_space) ? (model.action_space as DiscreteAction[]) : undefined;
  const continuous = discrete ? undefined : (model.action_space as Exclude<ModelDetail["action_space"], DiscreteAction[]>);
  return (
    <SpaceBetween size="l">
      <Container header={<Header variant="h2">Training configuration</Header>}>
        <ColumnLayout columns={4} variant="text-grid">
          {model.owner && <Field label="Owner">{model.owner}</Field>}
          <Field label="Track">{model.track}</Field>
          <Field label="Direction">{DIRECTION_LABELS[model.direction] ?? model.direction}</Field>
          <Field label="Race type">{RACE_TYPE_LABELS[model.race_type] ?? model.race_type}</Field>
          <Field label="Training algorithm">{model.algorithm.toUpperCase()}</Field>
          <Field label="Neural network">{networkLabel}</Field>
          <Field label="Action space type">{model.action_space_type === "continuous" ? "Continuous" : "Discrete"}</Field>
          <Field label="Stop condition">
            {model.max_minutes} minutes{model.max_steps ? ` or ${model.max_steps} steps` : ""}
          </Field>
          <Field label="Training time">{trainingTime(model)}</Field>
          <Field label="Creation time">{formatDate(model.created_at)}</Field>
          <Field label="Source">
            {model.source}
            {model.clone_of ? ` (from model ${model.clone_of})` : ""}
          </Field>
          <Field label="Best evaluation progress">{formatPercent(model.best_progress)}</Field>
          <Field label="Best lap time">{formatLapTime(model.best_lap_time_s)}</Field>
        </ColumnLayout>
      </Container>
      <ColumnLayout columns={2}>
        <Container header={<Header variant="h2">Action space</Header>}>
          <ActionSpaceFan discrete={discrete} continuous={continuous} />
          {discrete ? (
            <ExpandableSection headerText={`Action list (${discrete.length})`}>
              <Table
                variant="embedded"
                items={discrete.map((a, i) => ({ ...a, index: i }))}
                columnDefinitions={[
                  { id: "i", header: "Action number", cell: (a) => a.index },
                  { id: "s", header: "Steering angle (°)", cell: (a) => formatNumber(a.steering_angle) },
                  { id: "v", header: "Speed (m/s)", cell: (a) => formatNumber(a.speed) },
                ]}
              />
            </ExpandableSection>
          ) : (
            continuous && (
              <Box>
                Steering angle {continuous.steering_angle.low}° to {continuous.steering_angle.high}° · speed {continuous.speed.low} to{" "}
                {continuous.speed.high} m/s
              </Box>
            )
          )}
        </Container>
        <Container header={<Header variant="h2">Hyperparameters</Header>}>
          <ColumnLayout columns={2} variant="text-grid">
            {Object.entries(model.hyperparameters)
              .filter(([key]) => key in HYPERPARAMETER_LABELS)
              .map(([key, value]) => (
                <Field key={key} label={HYPERPARAMETER_LABELS[key]}>
                  {typeof value === "string" ? LOSS_TYPE_LABELS[value] ?? value : formatNumber(value, 8)}
                </Field>
              ))}
          </ColumnLayout>
        </Container>
      </ColumnLayout>
      <Container>
        <ExpandableSection headerText="Reward function">
          <RewardEditor value={model.reward_function} readOnly />
        </ExpandableSection>
      </Container>
    </SpaceBetween>
  );
}

function LogView({ url, active }: { url: string; active: boolean }) {
  const log = usePolled<string | { text?: string; lines?: string[]; log?: string }>(url, active ? 3000 : 0);
  const text =
    typeof log.data === "string" ? log.data : log.data?.text ?? log.data?.log ?? log.data?.lines?.join("\n") ?? "";
  return (
    <Container header={<Header variant="h2" actions={<Button iconName="refresh" ariaLabel="Refresh log" onClick={log.reload} />}>Job log</Header>}>
      {log.error && <Alert type="error">{log.error}</Alert>}
      <pre
        data-testid="job-log"
        style={{ maxHeight: 480, overflow: "auto", background: "#0f1b2a", color: "#e9ebed", padding: 12, borderRadius: 8, fontSize: 12, margin: 0, whiteSpace: "pre-wrap", wordBreak: "break-all" }}
      >
        {text || (log.loading ? "Loading…" : "The job has not written anything yet.")}
      </pre>
    </Container>
  );
}

export default function ModelPage() {
  const { id } = useParams();
  const navigate = useNavigate();
  const [active, setActive] = useState(true);
  const model = usePolled<ModelDetail>(`/api/models/${id}`, active ? 2000 : 10000);
  const status = model.data?.status as ModelStatus | undefined;
  const metrics = usePolled<Metrics>(`/api/models/${id}/metrics`, active ? 3000 : 0);
  const [tab, setTab] = useState("training");
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [deleteOpen, setDeleteOpen] = useState(false);

  useEffect(() => {
    if (status) setActive(ACTIVE_STATUSES.includes(status));
  }, [status]);
  // one last metrics load when training ends, so the graph shows the final iterations
  const { reload: reloadMetrics } = metrics;
  useEffect(() => {
    if (!active) reloadMetrics();
  }, [active, reloadMetrics]);

  const points = useMemo(() => metrics.data?.iterations ?? [], [metrics.data]);

  async function act(name: string, run: () => Promise<unknown>) {
    setBusy(name);
    setActionError(undefined);
    try {
      await run();
      model.reload();
    } catch (err) {
      setActionError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  }

  if (model.error && !model.data) return <Alert type="error" header="Could not load the model">{model.error}</Alert>;
  const m = model.data;
  if (!m) return <Spinner size="large" />;
  const training = status !== undefined && ACTIVE_STATUSES.includes(status);
  const hasIterations = points.length > 0;

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description={m.description || undefined}
          info={<ModelStatusIndicator status={m.status} reason={m.failure_reason} />}
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              {training && (
                <Button
                  onClick={() => act("stop", () => api.post(`/api/models/${m.id}/stop`))}
                  loading={busy === "stop"}
                  disabled={m.status === "stopping"}
                >
                  Stop training
                </Button>
              )}
              <Button onClick={() => setTab("evaluation")} disabled={!m.has_package || training}>
                Evaluate
              </Button>
              <Button onClick={() => navigate(`/models/create?clone=${m.id}`)} disabled={m.status !== "ready"}>
                Clone
              </Button>
              <ButtonDropdown
                items={[
                  { id: "package", text: "Model package (.tar.gz)", href: m.package_url || `/api/models/${m.id}/package`, disabled: !m.has_package },
                  { id: "folder", text: "Training folder (.tar.gz)", href: `/api/models/${m.id}/training-folder` },
                ]}
                ariaLabel="Download"
              >
                Download
              </ButtonDropdown>
              <Button onClick={() => setDeleteOpen(true)} disabled={training}>
                Delete
              </Button>
            </SpaceBetween>
          }
        >
          {m.name}
        </Header>
      }
    >
      <SpaceBetween size="l">
        {m.status === "failed" && (
          <Alert type="error" header="Training failed" data-testid="failure-reason">
            {m.failure_reason ?? "No reason was recorded; see the job log."}
          </Alert>
        )}
        {actionError && (
          <Alert type="error" dismissible onDismiss={() => setActionError(undefined)}>
            {actionError}
          </Alert>
        )}
        <Tabs
          activeTabId={tab}
          onChange={(e) => setTab(e.detail.activeTabId)}
          tabs={[
            {
              id: "training",
              label: "Training",
              content: (
                <SpaceBetween size="l">
                  <Container
                    header={
                      <Header variant="h2" description="Per policy-updating iteration; refreshes while the model trains.">
                        Reward graph
                      </Header>
                    }
                  >
                    <TrainingGraph points={points} loading={metrics.loading} />
                  </Container>
                  <Container header={<Header variant="h2" description="Camera image and top-down view of the car in the simulator.">Simulation video stream</Header>}>
                    <LiveView url={m.live_url || `/api/models/${m.id}/live`} active={training} />
                  </Container>
                  <Settings model={m} />
                </SpaceBetween>
              ),
            },
            {
              id: "evaluation",
              label: "Evaluation",
              content: <EvaluationPanel model={m} onChange={model.reload} />,
            },
            {
              id: "analysis",
              label: "Log analysis",
              content: (
                <Container header={<Header variant="h2" description="The report `deepracer analyze` writes, from this model's logs.">Log analysis</Header>}>
                  {hasIterations || m.status === "ready" ? (
                    <iframe
                      title="Log analysis report"
                      src={`/api/models/${m.id}/report`}
                      style={{ width: "100%", height: 900, border: 0 }}
                      data-testid="report-frame"
                    />
                  ) : (
                    <Box color="text-status-inactive">The report is ready after the first training iteration.</Box>
                  )}
                </Container>
              ),
            },
            { id: "logs", label: "Logs", content: <LogView url={m.log_url || `/api/models/${m.id}/logs`} active={training} /> },
          ]}
        />
      </SpaceBetween>
      <Modal
        visible={deleteOpen}
        onDismiss={() => setDeleteOpen(false)}
        header={`Delete ${m.name}?`}
        footer={
          <Box float="right">
            <SpaceBetween direction="horizontal" size="xs">
              <Button variant="link" onClick={() => setDeleteOpen(false)}>
                Cancel
              </Button>
              <Button
                variant="primary"
                loading={busy === "delete"}
                onClick={() =>
                  act("delete", async () => {
                    await api.delete(`/api/models/${m.id}`);
                    navigate("/models");
                  })
                }
              >
                Delete
              </Button>
            </SpaceBetween>
          </Box>
        }
      >
        This permanently deletes the model, its training folder, its evaluations and their videos. It cannot be undone.
      </Modal>
    </ContentLayout>
  );
}
