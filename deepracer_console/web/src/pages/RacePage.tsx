// One race: its settings, the leaderboard (rank, racer, score, gap, lap times, video), the
// racer's place and "submit a model"; facilitators see the invite link. Public races need no
// login; a private one opens with ?invite=TOKEN.
import { useEffect, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import CopyToClipboard from "@cloudscape-design/components/copy-to-clipboard";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import { api, messageOf } from "../api";
import { AppLink, formatDate, JobStatusIndicator, usePolled } from "../common";
import { loginHref, useAuth } from "../components/Auth";
import { formatGap, formatMs, LeaderboardTable, RACE_TYPE_LABELS, rankingText, rememberInvite, withInvite } from "../components/RaceParts";
import type { Evaluation, Leaderboard, Model, Race, Submission } from "../types";
import { RaceState } from "./RacesPage";

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Box variant="awsui-key-label">{label}</Box>
      <div>{children}</div>
    </div>
  );
}

/** The caller's own submissions to a race, from the API (GET /api/races/{id}/submissions?mine=true): any browser. */
function useMySubmissions(raceId: number, invite: string | null) {
  const subs = usePolled<Submission[]>(withInvite(`/api/races/${raceId}/submissions?mine=true`, invite), 10000);
  return { subs: subs.data ?? [], reload: subs.reload };
}

function SubmissionRow({ sub, board }: { sub: Submission; board?: Leaderboard }) {
  const active = (status?: string) => status === undefined || status === "queued" || status === "running";
  const [done, setDone] = useState(false);
  const evaluation = usePolled<Evaluation>(sub.evaluation_id ? `/api/evaluations/${sub.evaluation_id}` : null, done ? 0 : 3000);
  const status = evaluation.data?.status;
  useEffect(() => {
    if (status && !active(status)) setDone(true);
  }, [status]);
  const onBoard = board?.entries.find((e) => e.submission_id === sub.id);
  let note = "";
  if (status === "completed" && !onBoard) {
    const best = board?.entries.find((e) => e.racer === sub.racer);
    note = best
      ? "not your best run: your place stays with a better one"
      : `not ranked: it did not complete ${board?.minimum_laps ?? "the minimum"} consecutive lap(s)`;
  }
  return (
    <li data-testid="my-submission">
      Submission {sub.id} ({formatDate(sub.created_at)}): <JobStatusIndicator status={status ?? sub.status} reason={evaluation.data?.failure_reason} />
      {onBoard ? ` rank ${onBoard.rank}, ${formatMs(onBoard.score_ms)}` : note ? ` ${note}` : ""}
      {sub.model_id !== null && (
        <>
          {" "}
          · <AppLink href={`/models/${sub.model_id}`}>the model</AppLink>
        </>
      )}
    </li>
  );
}

function Submit({ race, invite, board, onSubmitted }: { race: Race; invite: string | null; board?: Leaderboard; onSubmitted: () => void }) {
  const auth = useAuth();
  const models = usePolled<Model[]>("/api/models", 10000);
  // only the caller's own models: a facilitator's or admin's models list shows everybody's
  const mine = (models.data ?? []).filter(
    (m) => m.status === "ready" && m.has_package && (auth.singleUser || !auth.user || m.owner_id === auth.user.id),
  );
  const [choice, setChoice] = useState<number>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const { subs, reload } = useMySubmissions(race.id, invite);

  async function submit() {
    if (choice === undefined) {
      setError("Choose one of your ready models.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.post<Submission>(`/api/races/${race.id}/submissions`, { model_id: choice, invite: invite ?? undefined });
      reload();
      onSubmitted();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const options = mine.map((m) => ({ value: String(m.id), label: m.name, description: `${m.track} · ${m.algorithm.toUpperCase()}` }));
  return (
    <Container
      header={
        <Header variant="h2" description={`Evaluated on ${race.track} (${race.direction}), ${race.laps} lap(s), the race's seed. ${race.submissions_per_day} submissions a day.`}>
          Submit a model
        </Header>
      }
    >
      <SpaceBetween size="m">
        {!race.is_open && <Alert type="info">This race takes submissions from {formatDate(race.opens_at)} to {formatDate(race.closes_at)}.</Alert>}
        <FormField label="Model" errorText={error} description={models.data && !mine.length ? "You have no ready model yet: train or import one first." : undefined}>
          <SpaceBetween direction="horizontal" size="xs">
            <div style={{ minWidth: 320 }}>
              <Select
                selectedOption={options.find((o) => o.value === String(choice)) ?? null}
                onChange={(e) => setChoice(Number(e.detail.selectedOption.value))}
                options={options}
                placeholder="Choose one of your ready models"
                ariaLabel="Model to submit"
                statusType={models.loading ? "loading" : "finished"}
                empty="No ready model"
              />
            </div>
            <Button variant="primary" onClick={submit} loading={busy} disabled={!race.is_open}>
              Submit model
            </Button>
          </SpaceBetween>
        </FormField>
        {subs.length > 0 && (
          <div>
            <Box variant="awsui-key-label">Your submissions</Box>
            <ul style={{ margin: 0 }}>
              {subs.map((s) => (
                <SubmissionRow key={s.id} sub={s} board={board} />
              ))}
            </ul>
          </div>
        )}
      </SpaceBetween>
    </Container>
  );
}

function YourPlace({ board, username }: { board?: Leaderboard; username: string }) {
  const entry = board?.entries.find((e) => e.racer === username);
  if (!board) return null;
  if (!entry) {
    return (
      <Box data-testid="your-place" color="text-status-inactive">
        You have no ranked entry yet{board.pending ? ` (${board.pending} submission(s) being evaluated)` : ""}.
      </Box>
    );
  }
  return (
    <Box data-testid="your-place" variant="h2">
      Your place: {entry.rank} of {board.entries.length} · {formatMs(entry.score_ms)}
      {entry.gap_ms > 0 ? ` (${formatGap(entry.gap_ms)} behind the leader)` : " (leading)"}
    </Box>
  );
}

export default function RacePage() {
  const { id } = useParams();
  const [params] = useSearchParams();
  const invite = params.get("invite");
  const auth = useAuth();
  const navigate = useNavigate();
  const race = usePolled<Race>(withInvite(`/api/races/${id}`, invite), 30000);
  const board = usePolled<Leaderboard>(withInvite(`/api/races/${id}/leaderboard`, invite), 5000);

  if (race.error && !race.data) {
    return (
      <Alert type="error" header="Could not open the race" data-testid="race-error">
        {race.error}
        {!auth.me?.logged_in && (
          <Box>
            A private race opens with its invite link; <AppLink href={loginHref(`/races/${id}`, invite ? `?invite=${invite}` : "")}>log in</AppLink> if you have an
            account.
          </Box>
        )}
      </Alert>
    );
  }
  const r = race.data;
  if (!r) return <Spinner size="large" />;
  if (r.private && invite) rememberInvite(r.id, invite); // the races list shows it again
  const bigScreen = withInvite(`/races/${r.id}/big-screen`, invite);
  const inviteUrl = r.invite_link ? `${window.location.origin}${r.invite_link}` : undefined;

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          info={<RaceState race={r} />}
          description={`${rankingText(r)} on ${r.track}.`}
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button iconName="external" iconAlign="right" href={bigScreen} target="_blank">
                Big screen
              </Button>
              {auth.managesRaces && (
                <Button
                  data-testid="delete-race"
                  onClick={async () => {
                    if (!window.confirm(`Delete race ${r.name}? Its submissions, running evaluations and leaderboard go with it.`)) return;
                    try {
                      await api.delete(`/api/races/${r.id}`);
                      navigate("/races");
                    } catch (err) {
                      window.alert(messageOf(err));
                    }
                  }}
                >
                  Delete
                </Button>
              )}
              {auth.managesRaces && r.physical && (
                <Button variant="primary" onClick={() => navigate(`/races/${r.id}/timekeeper`)}>
                  Timekeeper
                </Button>
              )}
            </SpaceBetween>
          }
        >
          {r.name}
        </Header>
      }
    >
      <SpaceBetween size="l">
        {auth.user && !auth.singleUser && <YourPlace board={board.data} username={auth.user.username} />}
        <Container
          header={
            <Header
              variant="h2"
              description={`${rankingText(r)}; a run needs ${r.minimum_laps} consecutive completed lap(s) to be ranked; each racer's best run counts, ties go to the earlier submission.`}
              counter={board.data ? `(${board.data.entries.length})` : undefined}
              actions={<Button iconName="refresh" ariaLabel="Refresh the leaderboard" onClick={board.reload} />}
            >
              Leaderboard
            </Header>
          }
        >
          {board.error && <Alert type="error">{board.error}</Alert>}
          {board.data && board.data.pending > 0 && (
            <Box color="text-status-info" padding={{ bottom: "s" }}>
              {board.data.pending} submission(s) being evaluated.
            </Box>
          )}
          <LeaderboardTable board={board.data} me={auth.user?.username} invite={invite} loading={board.loading} />
        </Container>
        {r.physical ? (
          <Box color="text-body-secondary">A physical race: racers drive on the track; the timekeeper records their laps.</Box>
        ) : auth.me?.logged_in ? (
          <Submit race={r} invite={invite} board={board.data} onSubmitted={board.reload} />
        ) : (
          <Box>
            <AppLink href={loginHref(`/races/${r.id}`, invite ? `?invite=${invite}` : "")}>Log in</AppLink> to submit a model.
          </Box>
        )}
        <Container header={<Header variant="h2">Race settings</Header>}>
          <ColumnLayout columns={4} variant="text-grid">
            <Field label="Track">{r.track}</Field>
            <Field label="Direction">{r.direction === "clockwise" ? "Clockwise" : "Counterclockwise"}</Field>
            <Field label="Race type">{RACE_TYPE_LABELS[r.race_type] ?? r.race_type}</Field>
            <Field label="Ranking">{rankingText(r)}</Field>
            <Field label="Opens">{formatDate(r.opens_at)}</Field>
            <Field label="Closes">{formatDate(r.closes_at)}</Field>
            <Field label="Laps per attempt">{r.laps}</Field>
            <Field label="Minimum laps">{r.minimum_laps}</Field>
            <Field label="Off-track penalty">{r.off_track_penalty_s} s</Field>
            <Field label="Resets allowed">{r.resets}</Field>
            <Field label="Submissions per racer per day">{r.submissions_per_day}</Field>
            <Field label="Access">{r.private ? "Private" : "Public"}</Field>
            {r.physical && <Field label="Race time per racer">{r.race_time_s} s</Field>}
          </ColumnLayout>
        </Container>
        {inviteUrl && (
          <Container header={<Header variant="h2" description={r.private ? "Only people with this link see the race." : "The race is public; this link works too."}>Invite link</Header>}>
            <span data-testid="invite-link">
              <CopyToClipboard variant="inline" textToCopy={inviteUrl} copyButtonAriaLabel="Copy the invite link" copySuccessText="Invite link copied" copyErrorText="Could not copy" />
            </span>
          </Container>
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
