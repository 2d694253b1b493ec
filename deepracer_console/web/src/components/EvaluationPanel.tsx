// Evaluate a model (track, direction, race type and its options, number of trials, off-track penalty) and read the results:
// one row per trial as `deepracer evaluate --json` gives them, and the video of the trials.
import { useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import Tiles from "@cloudscape-design/components/tiles";
import { api, ApiError, messageOf } from "../api";
import { formatDate, formatLapTime, formatPercent, JobStatusIndicator, trialStatusLabel, usePolled } from "../common";
import { checkRange, normalizeDefaults, rangeText } from "../defaults";
import RaceOptions, { raceOptionsFrom, raceOptionsPayload, RaceOptionsState } from "./RaceOptions";
import type { Direction, Evaluation, ModelDetail, Track, Trial } from "../types";

const RUNNING = ["queued", "running"];

function Results({ evaluation }: { evaluation: Evaluation }) {
  return (
    <SpaceBetween size="m">
      <Table<Trial>
        data-testid="evaluation-results"
        variant="embedded"
        header={
          <Header variant="h3" description={`${evaluation.track}, ${evaluation.direction}, ${evaluation.race_type.replace(/_/g, " ")}, off-track penalty ${evaluation.off_track_penalty_s} s`}>
            Evaluation results
          </Header>
        }
        items={evaluation.trials}
        empty={<Box color="text-status-inactive">{RUNNING.includes(evaluation.status) ? "The trials are running." : "No trial finished."}</Box>}
        columnDefinitions={[
          { id: "trial", header: "Trial", cell: (t) => t.trial },
          { id: "time", header: "Time (MM:SS.mmm)", cell: (t) => formatLapTime(t.elapsed_s) },
          { id: "lap", header: "Lap time", cell: (t) => formatLapTime(t.lap_time_s) },
          { id: "progress", header: "Trial results (% track completed)", cell: (t) => formatPercent(t.progress) },
          { id: "off_track", header: "Off-tracks", cell: (t) => t.off_track },
          { id: "resets", header: "Resets", cell: (t) => t.resets },
          ...(evaluation.race_type !== "time_trial"
            ? [{ id: "crashes", header: "Crashes", cell: (t: Trial) => String((t as unknown as { crashes?: number }).crashes ?? 0) }]
            : []),
          { id: "status", header: "Status", cell: (t) => trialStatusLabel(t.status) },
        ]}
      />
      {evaluation.video_url && evaluation.status === "completed" && (
        <video
          data-testid="evaluation-video"
          controls
          preload="metadata"
          src={evaluation.video_url}
          style={{ width: "100%", maxWidth: 800, borderRadius: 8, background: "#000" }}
        />
      )}
    </SpaceBetween>
  );
}

export default function EvaluationPanel({ model, onChange }: { model: ModelDetail; onChange: () => void }) {
  const rawDefaults = usePolled<Record<string, unknown>>("/api/defaults");
  const defaults = useMemo(() => (rawDefaults.data ? normalizeDefaults(rawDefaults.data) : undefined), [rawDefaults.data]);
  const tracks = usePolled<Track[]>("/api/tracks");
  const [polling, setPolling] = useState(true);
  const evaluations = usePolled<Evaluation[]>(`/api/models/${model.id}/evaluations`, polling ? 2000 : 0);
  const [track, setTrack] = useState(model.track);
  const [direction, setDirection] = useState<Direction>(model.direction);
  const [trials, setTrials] = useState("3");
  const [penalty, setPenalty] = useState("3");
  const [raceType, setRaceType] = useState(model.race_type ?? "time_trial");
  const [raceOptions, setRaceOptions] = useState<RaceOptionsState>(() => raceOptionsFrom(model.race));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [submitting, setSubmitting] = useState(false);
  const [selected, setSelected] = useState<number>();

  useEffect(() => {
    if (!defaults) return;
    setTrials(String(defaults.evaluation.trials.default ?? 3));
    setPenalty(String(defaults.evaluation.off_track_penalty.default ?? 3));
  }, [defaults]);

  const list = useMemo(() => [...(evaluations.data ?? [])].sort((a, b) => b.id - a.id), [evaluations.data]);
  const running = list.some((e) => RUNNING.includes(e.status));
  useEffect(() => {
    if (evaluations.data) setPolling(running);
  }, [running, evaluations.data]);
  // a finished evaluation changes the model's best progress / lap time
  const { reload } = evaluations;
  useEffect(() => {
    if (!running && evaluations.data) onChange();
  }, [running]); // eslint-disable-line react-hooks/exhaustive-deps
  const shown = list.find((e) => e.id === selected) ?? list[0];
  const trackInfo = tracks.data?.find((t) => t.name === track);
  const directions = trackInfo?.directions?.length ? trackInfo.directions : (["counterclockwise", "clockwise"] as Direction[]);

  async function start() {
    if (!defaults) return;
    const e: Record<string, string> = {};
    const t = checkRange(Number(trials), defaults.evaluation.trials);
    const p = checkRange(Number(penalty), defaults.evaluation.off_track_penalty);
    if (t) e.trials = t;
    if (p) e.off_track_penalty_s = p;
    const race = raceOptionsPayload(raceType, raceOptions, true);
    Object.assign(e, race.errors);
    setErrors(e);
    if (Object.keys(e).length) return;
    setSubmitting(true);
    setFormError(undefined);
    try {
      const created = await api.post<Evaluation>(`/api/models/${model.id}/evaluations`, {
        track,
        direction,
        trials: Number(trials),
        off_track_penalty_s: Number(penalty),
        race_type: raceType,
        ...(race.race ? { race: race.race } : {}),
      });
      setSelected(created.id);
      setPolling(true);
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
      setFormError(messageOf(err));
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <SpaceBetween size="l">
      <Container header={<Header variant="h2" description="Races the model's best checkpoint in the simulator.">Evaluate the model</Header>}>
        {!model.has_package ? (
          <Box color="text-status-inactive">The model can be evaluated once training has exported a model package.</Box>
        ) : (
          <Form
            errorText={formError}
            actions={
              <Button variant="primary" onClick={start} loading={submitting} disabled={!defaults}>
                Start evaluation
              </Button>
            }
          >
            <ColumnLayout columns={4}>
              <FormField label="Track" errorText={errors.track}>
                <Select
                  selectedOption={{ value: track, label: track }}
                  options={(tracks.data ?? []).map((t) => ({ value: t.name, label: t.name, description: `${t.length_m.toFixed(1)} m` }))}
                  onChange={(ev) => {
                    const name = ev.detail.selectedOption.value ?? model.track;
                    setTrack(name);
                    const info = tracks.data?.find((x) => x.name === name);
                    if (info?.directions?.length && !info.directions.includes(direction)) setDirection(info.directions[0]);
                  }}
                  ariaLabel="Evaluation track"
                />
              </FormField>
              <FormField label="Direction" errorText={errors.direction}>
                <RadioGroup
                  value={direction}
                  onChange={(ev) => setDirection(ev.detail.value as Direction)}
                  items={[
                    { value: "counterclockwise", label: "Counterclockwise", disabled: !directions.includes("counterclockwise") },
                    { value: "clockwise", label: "Clockwise", disabled: !directions.includes("clockwise") },
                  ]}
                  ariaLabel="Evaluation direction"
                />
              </FormField>
              <FormField label="Number of trials" constraintText={rangeText(defaults?.evaluation.trials)} errorText={errors.trials}>
                <Input type="number" value={trials} onChange={(ev) => setTrials(ev.detail.value)} ariaLabel="Number of trials" />
              </FormField>
              <FormField
                label="Off-track penalty"
                description="Seconds added per off-track"
                constraintText={rangeText(defaults?.evaluation.off_track_penalty)}
                errorText={errors.off_track_penalty_s}
              >
                <Input type="number" value={penalty} onChange={(ev) => setPenalty(ev.detail.value)} ariaLabel="Off-track penalty" />
              </FormField>
            </ColumnLayout>
            <Box margin={{ top: "m" }}>
              <FormField label="Race type" errorText={errors.race_type}>
                <Tiles
                  value={raceType}
                  onChange={(ev) => setRaceType(ev.detail.value)}
                  ariaLabel="Evaluation race type"
                  items={(defaults?.race_types ?? []).map((r) => ({ value: r.value, label: r.label, description: r.description }))}
                />
              </FormField>
            </Box>
            <Box margin={{ top: "m" }}>
              <RaceOptions raceType={raceType} value={raceOptions} onChange={setRaceOptions} errors={errors} withPenalty />
            </Box>
          </Form>
        )}
      </Container>
      <Container header={<Header variant="h2" counter={`(${list.length})`}>Evaluations</Header>}>
        <SpaceBetween size="l">
          {evaluations.error && <Alert type="error">{evaluations.error}</Alert>}
          <Table<Evaluation>
            data-testid="evaluations-table"
            variant="embedded"
            items={list}
            loading={evaluations.loading}
            selectionType="single"
            trackBy="id"
            selectedItems={shown ? [shown] : []}
            onSelectionChange={(ev) => setSelected(ev.detail.selectedItems[0]?.id)}
            empty={<Box color="text-status-inactive">No evaluation yet.</Box>}
            columnDefinitions={[
              { id: "created", header: "Started", cell: (e) => formatDate(e.created_at) },
              { id: "track", header: "Track", cell: (e) => `${e.track} (${e.direction})` },
              { id: "trials", header: "Trials", cell: (e) => e.trials_requested },
              { id: "status", header: "Status", cell: (e) => <JobStatusIndicator status={e.status} reason={e.failure_reason} /> },
            ]}
          />
          {shown && <Results evaluation={shown} />}
        </SpaceBetween>
      </Container>
    </SpaceBetween>
  );
}
