// Facilitators: create a race (POST /api/races) with DeepRacer on AWS's community-race settings.
import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import DatePicker from "@cloudscape-design/components/date-picker";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import TimeInput from "@cloudscape-design/components/time-input";
import Toggle from "@cloudscape-design/components/toggle";
import { ApiError, api, messageOf } from "../api";
import { usePolled } from "../common";
import { RACE_TYPE_LABELS, RANKING_LABELS } from "../components/RaceParts";
import type { Direction, Race, Ranking, Track } from "../types";

const LAP_CHOICES = [1, 2, 3, 5, 10];

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A local date "YYYY-MM-DD" and time "HH:mm" for a Date. */
function parts(date: Date): { day: string; time: string } {
  return { day: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`, time: `${pad(date.getHours())}:${pad(date.getMinutes())}` };
}

/** The ISO instant of a local date and time, or undefined when incomplete. */
function instant(day: string, time: string): string | undefined {
  if (!/^\d{4}-\d\d-\d\d$/.test(day) || !/^\d\d:\d\d$/.test(time)) return undefined;
  const date = new Date(`${day}T${time}:00`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

interface RaceForm {
  name: string;
  track: string;
  direction: Direction;
  race_type: string;
  opensDay: string;
  opensTime: string;
  closesDay: string;
  closesTime: string;
  ranking: Ranking;
  minimum_laps: string;
  laps: number;
  off_track_penalty_s: string;
  resets: string;
  submissions_per_day: string;
  private: boolean;
  physical: boolean;
  race_time_s: string;
}

function initial(): RaceForm {
  const now = new Date();
  const week = new Date(now.getTime() + 7 * 24 * 3600 * 1000);
  return {
    name: "",
    track: "",
    direction: "counterclockwise",
    race_type: "time_trial",
    opensDay: parts(now).day,
    opensTime: parts(now).time,
    closesDay: parts(week).day,
    closesTime: parts(week).time,
    ranking: "TOTAL_TIME",
    minimum_laps: "3",
    laps: 3,
    off_track_penalty_s: "1",
    resets: "10000",
    submissions_per_day: "99",
    private: false,
    physical: false,
    race_time_s: "120",
  };
}

export default function CreateRacePage() {
  const navigate = useNavigate();
  const tracks = usePolled<Track[]>("/api/tracks");
  const defaults = usePolled<{ race_types?: string[] }>("/api/defaults");
  const [form, setForm] = useState<RaceForm>(initial);
  const [error, setError] = useState<{ message: string; field?: string }>();
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof RaceForm>(key: K, value: RaceForm[K]) => setForm((f) => ({ ...f, [key]: value }));

  const track = useMemo(() => tracks.data?.find((t) => t.name === form.track), [tracks.data, form.track]);
  const trackOptions = (tracks.data ?? []).map((t) => ({ value: t.name, label: t.name, description: `${t.length_m.toFixed(2)} m · ${t.description || t.source}` }));
  const directions: Direction[] = track?.directions?.length ? track.directions : ["counterclockwise", "clockwise"];
  const raceTypes = defaults.data?.race_types ?? ["time_trial"];
  const total = form.ranking === "TOTAL_TIME";
  const fieldError = (name: string) => (error?.field === name ? error.message : undefined);

  async function create() {
    const opens_at = instant(form.opensDay, form.opensTime);
    const closes_at = instant(form.closesDay, form.closesTime);
    if (!form.track) return setError({ message: "Choose the race's track.", field: "track" });
    if (!opens_at) return setError({ message: "Give the opening date and time.", field: "opens_at" });
    if (!closes_at) return setError({ message: "Give the closing date and time.", field: "closes_at" });
    const minimum = Number(form.minimum_laps);
    const body = {
      name: form.name.trim(),
      track: form.track,
      direction: form.direction,
      race_type: form.race_type,
      opens_at,
      closes_at,
      ranking: form.ranking,
      minimum_laps: minimum,
      laps: total ? minimum : form.laps,
      off_track_penalty_s: Number(form.off_track_penalty_s),
      resets: Number(form.resets),
      submissions_per_day: Number(form.submissions_per_day),
      private: form.private,
      // a physical race: timed on a real track by the timekeeper (sent only then)
      ...(form.physical ? { physical: true, race_time_s: Number(form.race_time_s) } : {}),
    };
    setBusy(true);
    setError(undefined);
    try {
      const race = await api.post<Race>("/api/races", body);
      navigate(`/races/${race.id}`);
    } catch (err) {
      setError({ message: messageOf(err), field: err instanceof ApiError ? err.field : undefined });
    } finally {
      setBusy(false);
    }
  }

  const known = ["name", "track", "direction", "race_type", "opens_at", "closes_at", "ranking", "minimum_laps", "laps", "off_track_penalty_s", "resets", "submissions_per_day", "private", "physical", "race_time_s"];
  return (
    <ContentLayout header={<Header variant="h1" description="DeepRacer's community-race settings. Every submission drives them with the same seed.">Create race</Header>}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create();
        }}
      >
        <Form
          errorText={error && !known.includes(error.field ?? "") ? error.message : undefined}
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button variant="link" formAction="none" onClick={() => navigate("/races")}>
                Cancel
              </Button>
              <Button variant="primary" formAction="submit" loading={busy}>
                Create race
              </Button>
            </SpaceBetween>
          }
        >
          <SpaceBetween size="l">
            {error && known.includes(error.field ?? "") && <Alert type="error">{error.message}</Alert>}
            <Container header={<Header variant="h2">Race</Header>}>
              <SpaceBetween size="m">
                <FormField label="Race name" constraintText="Letters, numbers and hyphens." errorText={fieldError("name")}>
                  <Input value={form.name} onChange={(e) => set("name", e.detail.value)} ariaLabel="Race name" />
                </FormField>
                <ColumnLayout columns={3}>
                  <FormField label="Track" errorText={fieldError("track") ?? tracks.error}>
                    <Select
                      selectedOption={trackOptions.find((o) => o.value === form.track) ?? null}
                      onChange={(e) => set("track", e.detail.selectedOption.value ?? "")}
                      options={trackOptions}
                      placeholder="Choose a track"
                      filteringType="auto"
                      ariaLabel="Track"
                      statusType={tracks.loading ? "loading" : "finished"}
                    />
                  </FormField>
                  <FormField label="Direction" errorText={fieldError("direction")}>
                    <RadioGroup
                      value={form.direction}
                      onChange={(e) => set("direction", e.detail.value as Direction)}
                      items={directions.map((d) => ({ value: d, label: d === "clockwise" ? "Clockwise" : "Counterclockwise" }))}
                    />
                  </FormField>
                  <FormField label="Race type" errorText={fieldError("race_type")}>
                    <Select
                      selectedOption={{ value: form.race_type, label: RACE_TYPE_LABELS[form.race_type] ?? form.race_type }}
                      onChange={(e) => set("race_type", e.detail.selectedOption.value ?? "time_trial")}
                      options={raceTypes.map((t) => ({ value: t, label: RACE_TYPE_LABELS[t] ?? t }))}
                      ariaLabel="Race type"
                    />
                  </FormField>
                </ColumnLayout>
                <ColumnLayout columns={2}>
                  <FormField label="Opens" description="Your local time." errorText={fieldError("opens_at")}>
                    <SpaceBetween direction="horizontal" size="xs">
                      <DatePicker value={form.opensDay} onChange={(e) => set("opensDay", e.detail.value)} placeholder="YYYY/MM/DD" ariaLabel="Opening date" />
                      <TimeInput value={form.opensTime} onChange={(e) => set("opensTime", e.detail.value)} format="hh:mm" placeholder="hh:mm" ariaLabel="Opening time" />
                    </SpaceBetween>
                  </FormField>
                  <FormField label="Closes" description="Your local time." errorText={fieldError("closes_at")}>
                    <SpaceBetween direction="horizontal" size="xs">
                      <DatePicker value={form.closesDay} onChange={(e) => set("closesDay", e.detail.value)} placeholder="YYYY/MM/DD" ariaLabel="Closing date" />
                      <TimeInput value={form.closesTime} onChange={(e) => set("closesTime", e.detail.value)} format="hh:mm" placeholder="hh:mm" ariaLabel="Closing time" />
                    </SpaceBetween>
                  </FormField>
                </ColumnLayout>
              </SpaceBetween>
            </Container>
            <Container header={<Header variant="h2">Ranking and laps</Header>}>
              <SpaceBetween size="m">
                <FormField label="Ranking method" errorText={fieldError("ranking")}>
                  <RadioGroup
                    value={form.ranking}
                    onChange={(e) => {
                      const ranking = e.detail.value as Ranking;
                      setForm((f) => ({ ...f, ranking, laps: ranking === "TOTAL_TIME" ? Number(f.minimum_laps) || f.laps : Math.max(f.laps, 5) }));
                    }}
                    items={(Object.keys(RANKING_LABELS) as Ranking[]).map((r) => ({ value: r, label: RANKING_LABELS[r] }))}
                  />
                </FormField>
                <ColumnLayout columns={2}>
                  <FormField
                    label="Minimum laps (N)"
                    description="Consecutive completed laps a run needs to be ranked; the N of the ranking."
                    errorText={fieldError("minimum_laps")}
                  >
                    <Input type="number" value={form.minimum_laps} onChange={(e) => set("minimum_laps", e.detail.value)} ariaLabel="Minimum laps" />
                  </FormField>
                  <FormField
                    label="Laps per attempt"
                    description={total ? "A total-time race drives exactly N laps." : "At least N."}
                    errorText={fieldError("laps")}
                  >
                    <Select
                      disabled={total}
                      selectedOption={{ value: String(total ? Number(form.minimum_laps) : form.laps), label: String(total ? form.minimum_laps : form.laps) }}
                      onChange={(e) => set("laps", Number(e.detail.selectedOption.value))}
                      options={LAP_CHOICES.map((n) => ({ value: String(n), label: String(n) }))}
                      ariaLabel="Laps per attempt"
                    />
                  </FormField>
                  <FormField label="Off-track penalty (seconds)" constraintText="0 to 60; served by the car, as in DeepRacer." errorText={fieldError("off_track_penalty_s")}>
                    <Input type="number" value={form.off_track_penalty_s} onChange={(e) => set("off_track_penalty_s", e.detail.value)} ariaLabel="Off-track penalty" />
                  </FormField>
                  <FormField label="Resets allowed" constraintText="0 to 10000." errorText={fieldError("resets")}>
                    <Input type="number" value={form.resets} onChange={(e) => set("resets", e.detail.value)} ariaLabel="Resets allowed" />
                  </FormField>
                  <FormField label="Submissions per racer per day" constraintText="1 to 1000." errorText={fieldError("submissions_per_day")}>
                    <Input type="number" value={form.submissions_per_day} onChange={(e) => set("submissions_per_day", e.detail.value)} ariaLabel="Submissions per day" />
                  </FormField>
                </ColumnLayout>
              </SpaceBetween>
            </Container>
            <Container header={<Header variant="h2">Access and format</Header>}>
              <SpaceBetween size="m">
                <FormField label="Private race" description="A private race is seen only through its invite link, which you get after creating it.">
                  <Toggle checked={form.private} onChange={(e) => set("private", e.detail.checked)}>
                    Private (invite link only)
                  </Toggle>
                </FormField>
                <FormField
                  label="Physical race"
                  description="Racers drive real cars on a real track; a timekeeper times each racer's attempt (laps by button, keyboard or a lap timer). Resets then count per lap."
                >
                  <Toggle checked={form.physical} onChange={(e) => set("physical", e.detail.checked)}>
                    Physical race (timekeeper)
                  </Toggle>
                </FormField>
                {form.physical && (
                  <FormField label="Race time per racer (seconds)" constraintText="10 to 3600; the Event Manager's default is 120." errorText={fieldError("race_time_s")}>
                    <Input type="number" value={form.race_time_s} onChange={(e) => set("race_time_s", e.detail.value)} ariaLabel="Race time" />
                  </FormField>
                )}
              </SpaceBetween>
            </Container>
          </SpaceBetween>
        </Form>
      </form>
    </ContentLayout>
  );
}
