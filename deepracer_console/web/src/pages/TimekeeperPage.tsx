// The timekeeper of a physical race (the DeepRacer Event Manager's): the racer queue, the race
// timer (start, pause, end), the lap button with keyboard shortcuts, off-track and reset
// counters, lap invalidation, undo, and uploading the next racer's model to a car.
// GET /api/races/{id}/timekeeper is polled every second, so laps a hardware timer posts show too.
import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { api, messageOf } from "../api";
import { usePolled } from "../common";
import { formatMs, LeaderboardTable, rankingText } from "../components/RaceParts";
import type { Attempt, AttemptState, Car, Leaderboard, Model, Timekeeper, TimekeeperAction } from "../types";

const STATE: Record<AttemptState, { type: StatusIndicatorProps.Type; label: string }> = {
  ready_to_start: { type: "pending", label: "Ready to start" },
  running: { type: "in-progress", label: "Running" },
  paused: { type: "stopped", label: "Paused" },
  race_is_over: { type: "success", label: "Race is over" },
};

/** Keys → buttons (ignored while typing in a field). */
export const SHORTCUTS: { keys: string[]; label: string; action: TimekeeperAction | "pause_resume" }[] = [
  { keys: [" ", "l"], label: "Space or L: lap", action: "lap" },
  { keys: ["o"], label: "O: off track", action: "off_track" },
  { keys: ["r"], label: "R: reset", action: "reset" },
  { keys: ["p"], label: "P: pause / resume", action: "pause_resume" },
  { keys: ["s"], label: "S: start", action: "start" },
  { keys: ["e"], label: "E: end the race", action: "end" },
  { keys: ["d"], label: "D: did not finish", action: "dnf" },
  { keys: ["u"], label: "U: undo", action: "undo" },
];

/** The attempt's clocks, advanced locally between polls while it runs. */
function useClock(attempt: Attempt | null | undefined) {
  const received = useRef<{ id: number; seq: number; at: number }>();
  const [, setTick] = useState(0);
  if (attempt && (received.current?.id !== attempt.id || received.current.seq !== attempt.server_time_ms)) {
    received.current = { id: attempt.id, seq: attempt.server_time_ms, at: performance.now() };
  }
  const running = attempt?.state === "running";
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => setTick((t) => t + 1), 100);
    return () => window.clearInterval(timer);
  }, [running]);
  if (!attempt) return { elapsed: 0, left: 0, lap: 0 };
  const since = running && received.current ? performance.now() - received.current.at : 0;
  return {
    elapsed: attempt.elapsed_ms + since,
    left: Math.max(0, attempt.time_left_ms - since),
    lap: attempt.current_lap_ms + since,
  };
}

function Big({ label, children, testId }: { label: string; children: React.ReactNode; testId?: string }) {
  return (
    <div>
      <Box variant="awsui-key-label">{label}</Box>
      <div data-testid={testId} style={{ fontSize: 40, fontWeight: 700, fontVariantNumeric: "tabular-nums" }}>
        {children}
      </div>
    </div>
  );
}

function Queue({ raceId, tk, onChange, setError }: { raceId: string; tk: Timekeeper; onChange: () => void; setError: (e?: string) => void }) {
  const [username, setUsername] = useState("");
  const models = usePolled<Model[]>("/api/models", 15000);
  const [modelId, setModelId] = useState<string>("");
  const ready = (models.data ?? []).filter((m) => m.has_package);
  const options = [{ value: "", label: "No model (the racer brings their car's)" }, ...ready.map((m) => ({ value: String(m.id), label: `${m.name} (model ${m.id})` }))];

  async function run(call: () => Promise<unknown>) {
    setError(undefined);
    try {
      await call();
      onChange();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  const add = () =>
    run(async () => {
      await api.post(`/api/races/${raceId}/queue`, { username: username.trim(), model_id: modelId ? Number(modelId) : undefined });
      setUsername("");
      setModelId("");
    });
  const move = (index: number, by: number) => {
    const order = tk.queue.map((e) => e.id);
    const [moved] = order.splice(index, 1);
    order.splice(index + by, 0, moved);
    return run(() => api.put(`/api/races/${raceId}/queue`, { order }));
  };

  return (
    <Container header={<Header variant="h2" counter={`(${tk.queue.length})`} description="The next racer is at the top.">Racer queue</Header>}>
      <SpaceBetween size="m">
        <Table
          data-testid="racer-queue"
          variant="embedded"
          items={tk.queue}
          empty={<Box textAlign="center">Nobody in the queue.</Box>}
          columnDefinitions={[
            { id: "pos", header: "#", cell: (e) => e.position, width: 50 },
            { id: "racer", header: "Racer", cell: (e) => e.racer },
            { id: "model", header: "Model", cell: (e) => e.model_name ?? "-" },
            {
              id: "actions",
              header: "",
              cell: (e) => {
                const i = tk.queue.indexOf(e);
                return (
                  <SpaceBetween direction="horizontal" size="xxs">
                    <Button variant="icon" iconName="angle-up" ariaLabel={`Move ${e.racer} up`} disabled={i === 0} onClick={() => move(i, -1)} />
                    <Button variant="icon" iconName="angle-down" ariaLabel={`Move ${e.racer} down`} disabled={i === tk.queue.length - 1} onClick={() => move(i, 1)} />
                    <Button variant="icon" iconName="remove" ariaLabel={`Remove ${e.racer} from the queue`} onClick={() => run(() => api.delete(`/api/races/${raceId}/queue/${e.id}`))} />
                  </SpaceBetween>
                );
              },
            },
          ]}
        />
        <form
          onSubmit={(e) => {
            e.preventDefault();
            add();
          }}
        >
          <ColumnLayout columns={3}>
            <FormField label="Racer's username">
              <Input value={username} onChange={(e) => setUsername(e.detail.value)} ariaLabel="Racer's username" />
            </FormField>
            <FormField label="Their model (optional)">
              <Select
                selectedOption={options.find((o) => o.value === modelId) ?? options[0]}
                onChange={(e) => setModelId(e.detail.selectedOption.value ?? "")}
                options={options}
                filteringType="auto"
                ariaLabel="Racer's model"
              />
            </FormField>
            <FormField label="&nbsp;">
              <Button formAction="submit" disabled={!username.trim()}>
                Add to queue
              </Button>
            </FormField>
          </ColumnLayout>
        </form>
      </SpaceBetween>
    </Container>
  );
}

function CarPanel({ tk, carId, setCarId }: { tk: Timekeeper; carId: string; setCarId: (id: string) => void }) {
  const cars = usePolled<Car[]>("/api/cars");
  const [message, setMessage] = useState<{ type: "success" | "error"; text: string }>();
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState("");
  const [address, setAddress] = useState("");
  const [token, setToken] = useState("");
  const next = tk.queue[0];
  const car = cars.data?.find((c) => String(c.id) === carId);

  async function upload() {
    if (!car || !next?.model_id) return;
    setBusy(true);
    setMessage(undefined);
    try {
      const out = await api.post<{ name_on_car: string; active: string | null }>(`/api/cars/${car.id}/model`, { model_id: next.model_id });
      setMessage({ type: "success", text: `${next.model_name ?? "The model"} is on ${car.name} as ${out.name_on_car}${out.active ? ` (active: ${out.active})` : ""}.` });
    } catch (err) {
      setMessage({ type: "error", text: messageOf(err) });
    } finally {
      setBusy(false);
    }
  }
  async function check() {
    if (!car) return;
    setBusy(true);
    setMessage(undefined);
    try {
      const out = await api.post<{ reachable: boolean; active: string | null; models: string[] }>(`/api/cars/${car.id}/check`);
      setMessage({
        type: out.reachable ? "success" : "error",
        text: out.reachable
          ? `${car.name} answers: active model ${out.active || "none"}; ${out.models.length} model(s) on the car.`
          : `${car.name} does not answer.`,
      });
    } catch (err) {
      setMessage({ type: "error", text: messageOf(err) });
    } finally {
      setBusy(false);
    }
  }
  async function register() {
    setMessage(undefined);
    try {
      const created = await api.post<Car>("/api/cars", { name: name.trim(), address: address.trim(), token });
      setName("");
      setAddress("");
      setToken("");
      cars.reload();
      setCarId(String(created.id));
      setMessage({ type: "success", text: `Car ${created.name} registered.` });
    } catch (err) {
      setMessage({ type: "error", text: messageOf(err) });
    }
  }

  const options = (cars.data ?? []).map((c) => ({ value: String(c.id), label: c.name, description: c.address }));
  return (
    <Container header={<Header variant="h2" description="The next racer's model goes to the car through the car's HTTP API.">Car</Header>}>
      <SpaceBetween size="m">
        {message && (
          <Alert type={message.type} dismissible onDismiss={() => setMessage(undefined)} data-testid="car-message">
            {message.text}
          </Alert>
        )}
        {cars.error && <Alert type="error">{cars.error}</Alert>}
        <FormField label="Car on the track">
          <Select
            selectedOption={options.find((o) => o.value === carId) ?? null}
            onChange={(e) => setCarId(e.detail.selectedOption.value ?? "")}
            options={options}
            placeholder={options.length ? "Choose a car" : "No car registered"}
            ariaLabel="Car on the track"
          />
        </FormField>
        <SpaceBetween direction="horizontal" size="xs">
          <Button onClick={upload} loading={busy} disabled={!car || !next?.model_id}>
            {next?.model_id ? `Upload ${next.racer}'s model to the car` : "Upload the next racer's model to the car"}
          </Button>
          <Button onClick={check} disabled={!car || busy}>
            Check car
          </Button>
        </SpaceBetween>
        <details>
          <summary>Register a car</summary>
          <ColumnLayout columns={3}>
            <FormField label="Name">
              <Input value={name} onChange={(e) => setName(e.detail.value)} ariaLabel="Car name" />
            </FormField>
            <FormField label="Address" description="http://host:port of the car's console">
              <Input value={address} onChange={(e) => setAddress(e.detail.value)} ariaLabel="Car address" />
            </FormField>
            <FormField label="Password (token)">
              <Input type="password" value={token} onChange={(e) => setToken(e.detail.value)} ariaLabel="Car token" />
            </FormField>
          </ColumnLayout>
          <Box padding={{ top: "s" }}>
            <Button onClick={register} disabled={!name.trim() || !address.trim() || !token}>
              Register car
            </Button>
          </Box>
        </details>
      </SpaceBetween>
    </Container>
  );
}

function TimerToken({ raceId, configured }: { raceId: string; configured: boolean }) {
  const [token, setToken] = useState<{ token: string; lap_url: string }>();
  const [error, setError] = useState<string>();
  return (
    <Container header={<Header variant="h2" description="A hardware lap timer posts its laps here with this token.">Lap timer</Header>}>
      <SpaceBetween size="s">
        <Box>{configured ? "A timer token is set for this race." : "No timer token yet: laps come from the Lap button."}</Box>
        {error && <Alert type="error">{error}</Alert>}
        {token && (
          <Box data-testid="timer-token">
            POST {window.location.origin}
            {token.lap_url} with <code>Authorization: Bearer {token.token}</code> (shown once)
          </Box>
        )}
        <Button
          onClick={async () => {
            setError(undefined);
            try {
              setToken(await api.post(`/api/races/${raceId}/timer-token`));
            } catch (err) {
              setError(messageOf(err));
            }
          }}
        >
          {configured ? "New timer token (the old one stops working)" : "Make a timer token"}
        </Button>
      </SpaceBetween>
    </Container>
  );
}

export default function TimekeeperPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const tk = usePolled<Timekeeper>(`/api/races/${id}/timekeeper`, 1000);
  const board = usePolled<Leaderboard>(`/api/races/${id}/leaderboard`, 3000);
  const [error, setError] = useState<string>();
  const [carId, setCarId] = useState("");
  const [busy, setBusy] = useState(false);
  const attempt = tk.data?.attempt ?? null;
  const clock = useClock(attempt);
  const { reload } = tk;
  const reloadBoard = board.reload;

  const press = useCallback(
    async (action: TimekeeperAction, lapId?: number) => {
      if (!attempt) return;
      setError(undefined);
      try {
        await api.post(`/api/races/${id}/attempts/${attempt.id}/events`, lapId === undefined ? { action } : { action, lap_id: lapId });
      } catch (err) {
        setError(messageOf(err));
      } finally {
        reload();
        reloadBoard();
      }
    },
    [attempt, id, reload, reloadBoard],
  );

  async function nextRacer() {
    setBusy(true);
    setError(undefined);
    try {
      await api.post(`/api/races/${id}/attempts`, carId ? { car_id: Number(carId) } : {});
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
      reload();
    }
  }

  // keyboard shortcuts: a key press is a button press (not while typing in a field)
  const state = attempt?.state;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.closest("[role=dialog]"))) return;
      const shortcut = SHORTCUTS.find((s) => s.keys.includes(event.key.toLowerCase()));
      if (!shortcut || !state) return;
      event.preventDefault();
      if (shortcut.action === "pause_resume") {
        if (state === "running") press("pause");
        else if (state === "paused") press("resume");
      } else {
        press(shortcut.action);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [press, state]);

  if (tk.error && !tk.data) return <Alert type="error" header="Could not open the timekeeper" data-testid="timekeeper-error">{tk.error}</Alert>;
  const t = tk.data;
  if (!t) return <Spinner size="large" />;
  const over = !attempt || attempt.state === "race_is_over";
  const known = attempt ? STATE[attempt.state] : undefined;

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description={`${rankingText(t)} · race time ${Math.round(t.race_time_ms / 1000)} s · ${t.resets_per_lap >= 9999 ? "unlimited" : t.resets_per_lap} resets per lap · ${t.off_track_penalty_s} s off-track penalty`}
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button onClick={() => navigate(`/races/${id}`)}>Race page</Button>
              <Button iconName="external" iconAlign="right" href={`/races/${id}/big-screen`} target="_blank">
                Big screen
              </Button>
            </SpaceBetween>
          }
        >
          Timekeeper: {t.name}
        </Header>
      }
    >
      <SpaceBetween size="l">
        {error && (
          <Alert type="error" dismissible onDismiss={() => setError(undefined)} data-testid="timekeeper-message">
            {error}
          </Alert>
        )}
        <Container
          header={
            <Header
              variant="h2"
              info={known && <StatusIndicator type={known.type}>{known.label}</StatusIndicator>}
              description={attempt ? `Attempt ${attempt.id}` : "No racer on the track yet."}
              actions={
                over && (
                  <Button variant="primary" onClick={nextRacer} loading={busy} disabled={!t.queue.length}>
                    {t.queue.length ? `Next racer: ${t.queue[0].racer}` : "Queue is empty"}
                  </Button>
                )
              }
            >
              <span data-testid="on-track">{attempt ? attempt.racer : "Race"}</span>
            </Header>
          }
        >
          <SpaceBetween size="l">
            <ColumnLayout columns={5} variant="text-grid">
              <Big label="Time left" testId="time-left">
                {formatMs(clock.left)}
              </Big>
              <Big label="Current lap" testId="current-lap">
                {formatMs(clock.lap)}
              </Big>
              <Big label="Laps" testId="lap-count">
                {attempt?.laps.length ?? 0}
              </Big>
              <Big label="Resets (this lap)" testId="resets">
                {attempt?.resets ?? 0}
              </Big>
              <Big label="Off track" testId="off-tracks">
                {attempt?.off_tracks ?? 0}
              </Big>
            </ColumnLayout>
            <SpaceBetween direction="horizontal" size="xs">
              <Button variant="primary" onClick={() => press("start")} disabled={state !== "ready_to_start"}>
                Start
              </Button>
              {state === "paused" ? (
                <Button onClick={() => press("resume")}>Resume</Button>
              ) : (
                <Button onClick={() => press("pause")} disabled={state !== "running"}>
                  Pause
                </Button>
              )}
              <Button variant="primary" onClick={() => press("lap")} disabled={!state || state === "race_is_over"} data-testid="lap-button">
                Lap
              </Button>
              <Button onClick={() => press("off_track")} disabled={state !== "running"}>
                Off track
              </Button>
              <Button onClick={() => press("reset")} disabled={state !== "running"}>
                Reset
              </Button>
              <Button onClick={() => press("dnf")} disabled={state !== "running"}>
                DNF
              </Button>
              <Button onClick={() => press("end")} disabled={!state || state === "race_is_over"}>
                End race
              </Button>
              <Button iconName="undo" onClick={() => press("undo")} disabled={!attempt?.last_event}>
                Undo{attempt?.last_event ? ` ${attempt.last_event.action.replace("_", " ")}` : ""}
              </Button>
            </SpaceBetween>
            <Box color="text-body-secondary" fontSize="body-s" data-testid="shortcuts">
              Keyboard: {SHORTCUTS.map((s) => s.label).join(" · ")}
            </Box>
            <Table
              data-testid="attempt-laps"
              variant="embedded"
              items={attempt?.laps ?? []}
              empty={<Box textAlign="center">No laps yet.</Box>}
              header={
                attempt && (
                  <Header variant="h3" description={attempt.score_ms !== null ? `Score: ${formatMs(attempt.score_ms)}` : `Not ranked yet (needs ${t.minimum_laps} valid consecutive laps).`}>
                    Laps of {attempt.racer}
                  </Header>
                )
              }
              columnDefinitions={[
                { id: "n", header: "Lap", cell: (l) => (attempt?.laps.indexOf(l) ?? 0) + 1, width: 60 },
                { id: "time", header: "Time", cell: (l) => formatMs(l.time_ms) },
                { id: "resets", header: "Resets", cell: (l) => l.resets },
                { id: "off", header: "Off track", cell: (l) => l.off_tracks },
                { id: "source", header: "From", cell: (l) => (l.auto_timer ? "Lap timer" : "Button") },
                { id: "valid", header: "Valid", cell: (l) => (l.is_valid ? <StatusIndicator>Valid</StatusIndicator> : <StatusIndicator type="error">Invalid</StatusIndicator>) },
                {
                  id: "toggle",
                  header: "",
                  cell: (l) => (
                    <Button variant="inline-link" onClick={() => press("invalidate", l.lap_id)} ariaLabel={`${l.is_valid ? "Invalidate" : "Validate"} lap ${(attempt?.laps.indexOf(l) ?? 0) + 1}`}>
                      {l.is_valid ? "Invalidate" : "Make valid"}
                    </Button>
                  ),
                },
              ]}
            />
          </SpaceBetween>
        </Container>
        <ColumnLayout columns={2}>
          <Queue raceId={id} tk={t} onChange={reload} setError={setError} />
          <SpaceBetween size="l">
            <CarPanel tk={t} carId={carId} setCarId={setCarId} />
            <TimerToken raceId={id} configured={t.timer_configured} />
          </SpaceBetween>
        </ColumnLayout>
        <Container header={<Header variant="h2">Leaderboard</Header>}>
          <LeaderboardTable board={board.data} loading={board.loading} />
        </Container>
      </SpaceBetween>
    </ContentLayout>
  );
}
