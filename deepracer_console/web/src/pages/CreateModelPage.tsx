// Create model: the console's wizard, in its order and with its words. Every field is checked
// here for quick feedback and again by the server; a server refusal is shown next to its field.
import { useEffect, useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Cards from "@cloudscape-design/components/cards";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import FormField from "@cloudscape-design/components/form-field";
import Grid from "@cloudscape-design/components/grid";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import Tiles from "@cloudscape-design/components/tiles";
import Wizard from "@cloudscape-design/components/wizard";
import { api, ApiError, messageOf } from "../api";
import { usePolled } from "../common";
import ActionSpaceFan from "../components/ActionSpaceFan";
import RewardEditor, { RewardError } from "../components/RewardEditor";
import RaceOptions, { RACE_OPTIONS_DEFAULTS, raceOptionsFrom, raceOptionsPayload, RaceOptionsState } from "../components/RaceOptions";
import TrackImage from "../components/TrackImage";
import {
  buildDiscrete,
  checkRange,
  Defaults,
  HYPERPARAMETER_LABELS,
  LOSS_TYPE_LABELS,
  normalizeDefaults,
  rangeText,
} from "../defaults";
import type { ActionSpaceType, Algorithm, Direction, DiscreteAction, Model, ModelDetail, RewardValidation, Track } from "../types";

type Errors = Record<string, string>;

interface Row {
  steering_angle: string;
  speed: string;
}

const DIRECTIONS: { value: Direction; label: string }[] = [
  { value: "counterclockwise", label: "Counterclockwise" },
  { value: "clockwise", label: "Clockwise" },
];

/** Wizard step that holds each field, so a server error opens the step it belongs to. */
function stepOf(field: string): number {
  const head = field.split(".")[0];
  if (["name", "description", "track", "direction"].includes(head)) return 0;
  if (["race_type", "race", "sensor"].includes(head)) return 1;
  if (["algorithm", "hyperparameters"].includes(head)) return 2;
  if (["action_space", "action_space_type"].includes(head)) return 3;
  if (head === "network") return 4;
  return 5;
}

const toRows = (actions: DiscreteAction[]): Row[] =>
  actions.map((a) => ({ steering_angle: String(a.steering_angle), speed: String(a.speed) }));

export default function CreateModelPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const cloneId = params.get("clone");
  const defaults = usePolled<Record<string, unknown>>("/api/defaults");
  const tracks = usePolled<Track[]>("/api/tracks");
  const source = usePolled<ModelDetail>(cloneId ? `/api/models/${cloneId}` : null);
  const d: Defaults | undefined = useMemo(() => (defaults.data ? normalizeDefaults(defaults.data) : undefined), [defaults.data]);

  const [step, setStep] = useState(0);
  const [errors, setErrors] = useState<Errors>({});
  const [submitError, setSubmitError] = useState<string>();
  const [submitting, setSubmitting] = useState(false);

  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [track, setTrack] = useState<string>();
  const [direction, setDirection] = useState<Direction>("counterclockwise");
  const [raceType, setRaceType] = useState("time_trial");
  const [raceOptions, setRaceOptions] = useState<RaceOptionsState>(RACE_OPTIONS_DEFAULTS);
  const [camera, setCamera] = useState("FRONT_FACING_CAMERA");
  const [lidar, setLidar] = useState("");
  const [cameraProfile, setCameraProfile] = useState("car");
  const [algorithm, setAlgorithm] = useState<Algorithm>("ppo");
  const [hyper, setHyper] = useState<Record<string, string>>({});
  const [spaceType, setSpaceType] = useState<ActionSpaceType>("discrete");
  const [builder, setBuilder] = useState({ steering: "5", maxSteering: "30", speeds: "2", maxSpeed: "1" });
  const [rows, setRows] = useState<Row[]>([]);
  const [continuous, setContinuous] = useState({ steerLow: "-10", steerHigh: "10", speedLow: "1", speedHigh: "2" });
  const [network, setNetwork] = useState<string>();
  const [reward, setReward] = useState("");
  const [maxMinutes, setMaxMinutes] = useState("10");
  const [maxSteps, setMaxSteps] = useState("");
  const [validation, setValidation] = useState<{ ok: boolean; error?: RewardError } | null>(null);
  const [validating, setValidating] = useState(false);
  const [examplesOpen, setExamplesOpen] = useState(false);
  const [initialised, setInitialised] = useState(false);

  // Start from the server's defaults (or, for a clone, from the source model's settings).
  useEffect(() => {
    if (!d || initialised || (cloneId && !source.data)) return;
    const from = source.data;
    const algo = (from?.algorithm ?? d.algorithms[0]?.value ?? "ppo") as Algorithm;
    setAlgorithm(algo);
    const hp = { ...d.hyperparameters[algo], ...(from?.hyperparameters ?? {}) };
    setHyper(Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, String(v)])));
    const b = d.discrete;
    const built = {
      steering: String(b.steering_angle_granularity.default ?? 5),
      maxSteering: String(b.max_steering_angle.default ?? 30),
      speeds: String(b.speed_granularity.default ?? 2),
      maxSpeed: String(b.max_speed.default ?? 1),
    };
    setBuilder(built);
    setRows(toRows(buildDiscrete(+built.steering, +built.maxSteering, +built.speeds, +built.maxSpeed)));
    setContinuous({
      steerLow: String(d.continuous.steering_angle.low),
      steerHigh: String(d.continuous.steering_angle.high),
      speedLow: String(d.continuous.speed.low),
      speedHigh: String(d.continuous.speed.high),
    });
    setSpaceType(algo === "sac" ? "continuous" : "discrete");
    setNetwork(d.neural_network ?? d.networks[0]?.value);
    setReward(d.reward_functions[0]?.source ?? "");
    setMaxMinutes(String(d.max_minutes.default ?? 10));
    setTrack(d.track);
    if (d.direction) setDirection(d.direction as Direction);
    if (from) {
      setName(`${from.name}-clone`.slice(0, d.name.max_length));
      setDescription(from.description ?? "");
      setTrack(from.track);
      if (from.direction) setDirection(from.direction);
      setRaceType(from.race_type ?? "time_trial");
      setRaceOptions(raceOptionsFrom(from.race));
      const sensors = from.sensor ?? ["FRONT_FACING_CAMERA"];
      setCamera(sensors.includes("STEREO_CAMERAS") ? "STEREO_CAMERAS" : "FRONT_FACING_CAMERA");
      setLidar(sensors.find((x) => x.includes("LIDAR")) ?? "");
      setSpaceType(from.action_space_type);
      if (Array.isArray(from.action_space)) setRows(toRows(from.action_space));
      else if (from.action_space) {
        const c = from.action_space;
        setContinuous({
          steerLow: String(c.steering_angle.low),
          steerHigh: String(c.steering_angle.high),
          speedLow: String(c.speed.low),
          speedHigh: String(c.speed.high),
        });
      }
      if (from.network) setNetwork(from.network);
      if (from.reward_function) setReward(from.reward_function);
      if (from.max_minutes) setMaxMinutes(String(from.max_minutes));
      if (from.max_steps) setMaxSteps(String(from.max_steps));
    }
    setInitialised(true);
  }, [d, source.data, cloneId, initialised]);

  useEffect(() => {
    if (!track && tracks.data?.length) setTrack(tracks.data[0].name);
  }, [tracks.data, track]);

  const selectedTrack = tracks.data?.find((t) => t.name === track);
  const directionsOf = (t?: Track): Direction[] => (t?.directions?.length ? t.directions : ["counterclockwise", "clockwise"]);

  const actions: DiscreteAction[] = useMemo(
    () => rows.map((r) => ({ steering_angle: Number(r.steering_angle), speed: Number(r.speed) })),
    [rows],
  );
  const continuousSpace = {
    steering_angle: { low: Number(continuous.steerLow), high: Number(continuous.steerHigh) },
    speed: { low: Number(continuous.speedLow), high: Number(continuous.speedHigh) },
  };

  const rebuild = (next: typeof builder) => {
    setBuilder(next);
    const values = [next.steering, next.maxSteering, next.speeds, next.maxSpeed].map(Number);
    if (values.every(Number.isFinite) && values[0] >= 1 && values[2] >= 1) {
      setRows(toRows(buildDiscrete(values[0], values[1], values[2], values[3])));
    }
  };

  /** The checks the console does before leaving a step; the server repeats them. */
  function checkStep(index: number): Errors {
    const e: Errors = {};
    if (!d) return e;
    if (index === 0) {
      if (!name) e.name = "Enter a model name.";
      else if (!new RegExp(`^(?:${d.name.pattern})$`).test(name))
        e.name = `Use 1–${d.name.max_length} characters: letters, numbers and hyphens.`;
      if (description && !new RegExp(`^(?:${d.description.pattern})$`).test(description))
        e.description = `Up to ${d.description.max_length} characters: letters, numbers, spaces and hyphens.`;
      if (!track) e.track = "Choose a track.";
      else if (!directionsOf(selectedTrack).includes(direction)) e.direction = "This track is not raced in that direction.";
    }
    if (index === 2) {
      const ranges = d.hyperparameter_ranges[algorithm] ?? {};
      for (const [key, range] of Object.entries(ranges)) {
        if (range.choices && typeof range.choices[0] === "string") continue;
        const problem = checkRange(Number(hyper[key]), range);
        if (problem) e[`hyperparameters.${key}`] = problem;
      }
    }
    if (index === 3) {
      if (spaceType === "discrete") {
        const count = d.discrete.actions;
        const problem = checkRange(rows.length, count);
        if (problem) e.action_space = `Number of actions: ${problem}`;
        rows.forEach((r, i) => {
          const s = checkRange(Number(r.steering_angle), d.discrete.steering_angle);
          const v = checkRange(Number(r.speed), d.discrete.speed);
          if (s) e[`action_space.${i}.steering_angle`] = s;
          if (v) e[`action_space.${i}.speed`] = v;
        });
      } else {
        const c = continuousSpace;
        const lo = checkRange(c.steering_angle.low, d.continuous.steering_low);
        const hi = checkRange(c.steering_angle.high, d.continuous.steering_high);
        if (lo) e["action_space.steering_angle.low"] = lo;
        if (hi) e["action_space.steering_angle.high"] = hi;
        if (!lo && !hi && c.steering_angle.low >= c.steering_angle.high)
          e["action_space.steering_angle.high"] = "The right limit must be above the left limit.";
        const sl = checkRange(c.speed.low, d.continuous.speed_range);
        const sh = checkRange(c.speed.high, d.continuous.speed_range);
        if (sl) e["action_space.speed.low"] = sl;
        if (sh) e["action_space.speed.high"] = sh;
        if (!sl && !sh && c.speed.low >= c.speed.high) e["action_space.speed.high"] = "The maximum speed must be above the minimum.";
      }
    }
    if (index === 1) Object.assign(e, raceOptionsPayload(raceType, raceOptions, false).errors);
    if (index === 5) {
      if (!reward.trim()) e.reward_function = "Enter a reward function.";
      const problem = checkRange(Number(maxMinutes), d.max_minutes);
      if (problem) e.max_minutes = problem;
      if (maxSteps.trim()) {
        const steps = checkRange(Number(maxSteps), { min: d.max_steps_min, integer: true });
        if (steps) e.max_steps = steps;
      }
    }
    return e;
  }

  function payload() {
    const hp: Record<string, number | string> = {};
    const ranges = d?.hyperparameter_ranges[algorithm] ?? {};
    for (const [key, value] of Object.entries(hyper)) {
      const range = ranges[key];
      const isText = (range?.choices && typeof range.choices[0] === "string") || Number.isNaN(Number(value));
      if (range || key in (d?.hyperparameters[algorithm] ?? {})) hp[key] = isText ? value : Number(value);
    }
    return {
      name,
      description,
      track,
      direction,
      race_type: raceType,
      ...(raceType !== "time_trial" ? { race: raceOptionsPayload(raceType, raceOptions, false).race } : {}),
      sensor: lidar ? [camera, lidar] : [camera],
      camera_profile: cameraProfile,
      algorithm,
      action_space_type: spaceType,
      action_space: spaceType === "discrete" ? actions : continuousSpace,
      hyperparameters: hp,
      network,
      reward_function: reward,
      max_minutes: Number(maxMinutes),
      ...(maxSteps.trim() ? { max_steps: Number(maxSteps) } : {}),
      ...(cloneId ? { clone_of: Number(cloneId) } : {}),
    };
  }

  async function submit() {
    const all: Errors = {};
    for (let i = 0; i <= 5; i++) Object.assign(all, checkStep(i));
    setErrors(all);
    const keys = Object.keys(all);
    if (keys.length) {
      setStep(Math.min(...keys.map(stepOf)));
      return;
    }
    setSubmitting(true);
    setSubmitError(undefined);
    try {
      const created = await api.post<Model>("/api/models", payload());
      navigate(`/models/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        setErrors({ [err.field]: err.message });
        setStep(stepOf(err.field));
        setSubmitError(`${err.field}: ${err.message}`);
      } else {
        setSubmitError(messageOf(err));
      }
    } finally {
      setSubmitting(false);
    }
  }

  async function validate() {
    setValidating(true);
    try {
      const result = await api.post<RewardValidation>("/api/reward/validate", { reward_function: reward, track, direction, race_type: raceType });
      // the line is shown once, before the message
      const message = (result.error ?? "invalid").replace(/^line \d+:\s*/i, "");
      setValidation(result.ok ? { ok: true } : { ok: false, error: { message, line: result.line } });
    } catch (err) {
      setValidation({ ok: false, error: { message: messageOf(err) } });
    } finally {
      setValidating(false);
    }
  }

  if (defaults.error) return <Alert type="error" header="Could not load the console's defaults">{defaults.error}</Alert>;
  if (!d || !initialised) return <Spinner size="large" />;

  const hpRanges = d.hyperparameter_ranges[algorithm] ?? {};
  const clone = source.data;
  const err = (key: string) => errors[key];

  const hyperparameterFields = Object.keys(d.hyperparameters[algorithm] ?? {})
    .filter((key) => key in hpRanges)
    .map((key) => {
      const range = hpRanges[key];
      const label = HYPERPARAMETER_LABELS[key] ?? key;
      const fixed = range.choices?.length === 1;
      const control = range.choices ? (
        <Select
          disabled={fixed}
          selectedOption={{ value: hyper[key], label: LOSS_TYPE_LABELS[hyper[key]] ?? hyper[key] }}
          options={range.choices.map((c) => ({ value: String(c), label: LOSS_TYPE_LABELS[String(c)] ?? String(c) }))}
          onChange={(e) => setHyper({ ...hyper, [key]: e.detail.selectedOption.value ?? "" })}
          ariaLabel={label}
        />
      ) : (
        <Input
          type="number"
          inputMode="decimal"
          value={hyper[key] ?? ""}
          onChange={(e) => setHyper({ ...hyper, [key]: e.detail.value })}
          ariaLabel={label}
        />
      );
      return (
        <FormField key={key} label={label} description={key} constraintText={rangeText(range)} errorText={err(`hyperparameters.${key}`)}>
          {control}
        </FormField>
      );
    });

  const discreteEditor = (
    <SpaceBetween size="l">
      <ColumnLayout columns={4}>
        <FormField label="Steering angle granularity" constraintText={rangeText(d.discrete.steering_angle_granularity)}>
          <Select
            selectedOption={{ value: builder.steering, label: builder.steering }}
            options={(d.discrete.steering_angle_granularity.choices ?? [3, 5, 7]).map((c) => ({ value: String(c), label: String(c) }))}
            onChange={(e) => rebuild({ ...builder, steering: e.detail.selectedOption.value ?? "5" })}
            ariaLabel="Steering angle granularity"
          />
        </FormField>
        <FormField label="Maximum steering angle" description="Degrees" constraintText={rangeText(d.discrete.max_steering_angle)}>
          <Input
            type="number"
            value={builder.maxSteering}
            onChange={(e) => rebuild({ ...builder, maxSteering: e.detail.value })}
            ariaLabel="Maximum steering angle"
            invalid={!!checkRange(Number(builder.maxSteering), d.discrete.max_steering_angle)}
          />
        </FormField>
        <FormField label="Speed granularity" constraintText={rangeText(d.discrete.speed_granularity)}>
          <Select
            selectedOption={{ value: builder.speeds, label: builder.speeds }}
            options={(d.discrete.speed_granularity.choices ?? [1, 2, 3]).map((c) => ({ value: String(c), label: String(c) }))}
            onChange={(e) => rebuild({ ...builder, speeds: e.detail.selectedOption.value ?? "2" })}
            ariaLabel="Speed granularity"
          />
        </FormField>
        <FormField label="Maximum speed" description="m/s" constraintText={rangeText(d.discrete.max_speed)}>
          <Input
            type="number"
            value={builder.maxSpeed}
            onChange={(e) => rebuild({ ...builder, maxSpeed: e.detail.value })}
            ariaLabel="Maximum speed"
            invalid={!!checkRange(Number(builder.maxSpeed), d.discrete.max_speed)}
          />
        </FormField>
      </ColumnLayout>
      <Grid gridDefinition={[{ colspan: { default: 12, l: 6 } }, { colspan: { default: 12, l: 6 } }]}>
        <Table
          variant="embedded"
          data-testid="action-list"
          header={
            <Header
              variant="h3"
              counter={`(${rows.length})`}
              description="Edit any action; the drawing follows."
              actions={
                <Button
                  iconName="add-plus"
                  disabled={!!clone || rows.length >= (d.discrete.actions.max ?? 30)}
                  onClick={() => setRows([...rows, { steering_angle: "0", speed: builder.maxSpeed }])}
                >
                  Add an action
                </Button>
              }
            >
              Action list
            </Header>
          }
          items={rows.map((r, i) => ({ ...r, index: i }))}
          columnDefinitions={[
            { id: "index", header: "Action number", cell: (r) => r.index, width: 90 },
            {
              id: "steering",
              header: "Steering angle (°)",
              cell: (r) => (
                <FormField errorText={err(`action_space.${r.index}.steering_angle`)}>
                  <Input
                    type="number"
                    value={r.steering_angle}
                    disabled={!!clone}
                    ariaLabel={`Steering angle of action ${r.index}`}
                    onChange={(e) => setRows(rows.map((x, j) => (j === r.index ? { ...x, steering_angle: e.detail.value } : x)))}
                  />
                </FormField>
              ),
            },
            {
              id: "speed",
              header: "Speed (m/s)",
              cell: (r) => (
                <FormField errorText={err(`action_space.${r.index}.speed`)}>
                  <Input
                    type="number"
                    value={r.speed}
                    disabled={!!clone}
                    ariaLabel={`Speed of action ${r.index}`}
                    onChange={(e) => setRows(rows.map((x, j) => (j === r.index ? { ...x, speed: e.detail.value } : x)))}
                  />
                </FormField>
              ),
            },
            {
              id: "remove",
              header: "",
              cell: (r) => (
                <Button
                  variant="icon"
                  iconName="remove"
                  ariaLabel={`Remove action ${r.index}`}
                  disabled={!!clone || rows.length <= (d.discrete.actions.min ?? 2)}
                  onClick={() => setRows(rows.filter((_, j) => j !== r.index))}
                />
              ),
            },
          ]}
        />
        <ActionSpaceFan discrete={actions} />
      </Grid>
    </SpaceBetween>
  );

  const continuousEditor = (
    <ColumnLayout columns={2}>
      <SpaceBetween size="m">
        <FormField label="Steering angle" description="Degrees; + is left, − is right" errorText={err("action_space.steering_angle") }>
          <ColumnLayout columns={2}>
            <FormField label="Right (minimum)" constraintText={rangeText(d.continuous.steering_low)} errorText={err("action_space.steering_angle.low")}>
              <Input type="number" value={continuous.steerLow} disabled={!!clone} ariaLabel="Minimum steering angle"
                onChange={(e) => setContinuous({ ...continuous, steerLow: e.detail.value })} />
            </FormField>
            <FormField label="Left (maximum)" constraintText={rangeText(d.continuous.steering_high)} errorText={err("action_space.steering_angle.high")}>
              <Input type="number" value={continuous.steerHigh} disabled={!!clone} ariaLabel="Maximum steering angle"
                onChange={(e) => setContinuous({ ...continuous, steerHigh: e.detail.value })} />
            </FormField>
          </ColumnLayout>
        </FormField>
        <FormField label="Speed" description="m/s" errorText={err("action_space.speed")}>
          <ColumnLayout columns={2}>
            <FormField label="Minimum speed" constraintText={rangeText(d.continuous.speed_range)} errorText={err("action_space.speed.low")}>
              <Input type="number" value={continuous.speedLow} disabled={!!clone} ariaLabel="Minimum speed"
                onChange={(e) => setContinuous({ ...continuous, speedLow: e.detail.value })} />
            </FormField>
            <FormField label="Maximum speed" constraintText={rangeText(d.continuous.speed_range)} errorText={err("action_space.speed.high")}>
              <Input type="number" value={continuous.speedHigh} disabled={!!clone} ariaLabel="Maximum speed"
                onChange={(e) => setContinuous({ ...continuous, speedHigh: e.detail.value })} />
            </FormField>
          </ColumnLayout>
        </FormField>
      </SpaceBetween>
      <ActionSpaceFan continuous={continuousSpace} />
    </ColumnLayout>
  );

  return (
    <>
      <Wizard
        activeStepIndex={step}
        isLoadingNextStep={submitting}
        onNavigate={({ detail }) => {
          if (detail.reason === "next") {
            const found = checkStep(step);
            setErrors((e) => ({ ...Object.fromEntries(Object.entries(e).filter(([k]) => stepOf(k) !== step)), ...found }));
            if (Object.keys(found).length) return;
          }
          setStep(detail.requestedStepIndex);
        }}
        onCancel={() => navigate(clone ? `/models/${clone.id}` : "/models")}
        onSubmit={submit}
        submitButtonText={clone ? "Clone model" : "Create model"}
        i18nStrings={{
          stepNumberLabel: (n) => `Step ${n}`,
          collapsedStepsLabel: (n, total) => `Step ${n} of ${total}`,
          navigationAriaLabel: "Steps",
          cancelButton: "Cancel",
          previousButton: "Previous",
          nextButton: "Next",
          optional: "optional",
        }}
        steps={[
          {
            title: "Specify the model name and environment",
            description: clone ? `Cloning ${clone.name}: the new model starts from its weights; its action space stays.` : undefined,
            errorText: step === 0 ? submitError : undefined,
            content: (
              <SpaceBetween size="l">
                <Container header={<Header variant="h2">Name your model</Header>}>
                  <SpaceBetween size="m">
                    <FormField label="Model name" constraintText={`Letters, numbers and hyphens; up to ${d.name.max_length} characters.`} errorText={err("name")}>
                      <Input value={name} onChange={(e) => setName(e.detail.value)} ariaLabel="Model name" placeholder="my-first-model" />
                    </FormField>
                    <FormField label={<span>Training job description <i>- optional</i></span>} constraintText={`Up to ${d.description.max_length} characters.`} errorText={err("description")}>
                      <Textarea value={description} onChange={(e) => setDescription(e.detail.value)} ariaLabel="Training job description" rows={2} />
                    </FormField>
                  </SpaceBetween>
                </Container>
                <Container header={<Header variant="h2" description="Built-in tracks and the routes you uploaded.">Environment simulation</Header>}>
                  <SpaceBetween size="m">
                    {err("track") && <Alert type="error">{err("track")}</Alert>}
                    <Cards
                      data-testid="track-cards"
                      loading={tracks.loading}
                      items={tracks.data ?? []}
                      trackBy="name"
                      selectionType="single"
                      selectedItems={selectedTrack ? [selectedTrack] : []}
                      onSelectionChange={(e) => {
                        const t = e.detail.selectedItems[0];
                        setTrack(t?.name);
                        if (t && !directionsOf(t).includes(direction)) setDirection(directionsOf(t)[0]);
                      }}
                      cardsPerRow={[{ cards: 1 }, { minWidth: 500, cards: 2 }, { minWidth: 900, cards: 3 }]}
                      cardDefinition={{
                        header: (t) => t.name,
                        sections: [
                          { id: "image", content: (t) => <TrackImage track={t} height={110} /> },
                          { id: "description", content: (t) => <Box variant="small" color="text-body-secondary">{t.description}</Box> },
                          {
                            id: "figures",
                            content: (t) => (
                              <Box variant="small">
                                Length {t.length_m.toFixed(2)} m · width {t.width_m.toFixed(2)} m{t.source === "builtin" ? "" : " · uploaded"}
                              </Box>
                            ),
                          },
                        ],
                      }}
                    />
                    <FormField label="Direction" errorText={err("direction")}>
                      <RadioGroup
                        value={direction}
                        onChange={(e) => setDirection(e.detail.value as Direction)}
                        items={DIRECTIONS.map((o) => ({ ...o, disabled: !directionsOf(selectedTrack).includes(o.value) }))}
                        ariaLabel="Direction"
                      />
                    </FormField>
                  </SpaceBetween>
                </Container>
              </SpaceBetween>
            ),
          },
          {
            title: "Choose race type",
            errorText: step === 1 ? submitError : undefined,
            content: (
              <Container header={<Header variant="h2">Race type</Header>}>
                <FormField errorText={err("race_type")} description="Time trial, object avoidance (boxes on the track) or head-to-bot (bot cars).">
                  <Tiles
                    value={raceType}
                    onChange={(e) => setRaceType(e.detail.value)}
                    items={d.race_types.map((r) => ({ value: r.value, label: r.label, description: r.description }))}
                    ariaLabel="Race type"
                  />
                </FormField>
                <Box margin={{ top: "m" }}>
                  <RaceOptions raceType={raceType} value={raceOptions} onChange={setRaceOptions} errors={errors} withPenalty={false} />
                </Box>
                <Box margin={{ top: "m" }}>
                  <FormField
                    label="Sensors"
                    description={cloneId ? "A clone keeps its model's sensors." : "The camera, and a LiDAR for object avoidance and head-to-bot."}
                    errorText={err("sensor")}
                  >
                    <SpaceBetween size="s" direction="horizontal">
                      <RadioGroup
                        value={camera}
                        onChange={(e) => setCamera(e.detail.value)}
                        ariaLabel="Camera"
                        items={[
                          { value: "FRONT_FACING_CAMERA", label: "Camera", description: "One front-facing camera.", disabled: Boolean(cloneId) },
                          { value: "STEREO_CAMERAS", label: "Stereo camera", description: "Two cameras 6 cm apart: depth.", disabled: Boolean(cloneId) },
                        ]}
                      />
                      <RadioGroup
                        value={lidar}
                        onChange={(e) => setLidar(e.detail.value)}
                        ariaLabel="LiDAR"
                        items={[
                          { value: "", label: "No LiDAR", disabled: Boolean(cloneId) },
                          { value: "SECTOR_LIDAR", label: "LiDAR (sectors)", description: "8 sectors: is something within 0.5 m.", disabled: Boolean(cloneId) },
                          { value: "LIDAR", label: "LiDAR (ranges)", description: "64 ranges up to 1 m.", disabled: Boolean(cloneId) },
                        ]}
                      />
                    </SpaceBetween>
                  </FormField>
                </Box>
                <Box margin={{ top: "m" }}>
                  <FormField
                    label="Camera profile"
                    description="The camera the simulator renders through; the model package records it (docs/camera-calibration.md)."
                    errorText={err("camera_profile")}
                  >
                    <Select
                      ariaLabel="Camera profile"
                      selectedOption={{ value: cameraProfile, label: cameraProfile }}
                      onChange={(e) => setCameraProfile(e.detail.selectedOption.value ?? "car")}
                      options={((defaults.data?.camera_profiles as { name: string; description: string; hfov_deg: number }[] | undefined) ?? [{ name: "car", description: "", hfov_deg: 120 }]).map((p) => ({
                        value: p.name,
                        label: p.name,
                        description: `${p.hfov_deg}°: ${p.description}`,
                      }))}
                    />
                  </FormField>
                </Box>
              </Container>
            ),
          },
          {
            title: "Choose training algorithm and hyperparameters",
            errorText: step === 2 ? submitError : undefined,
            content: (
              <SpaceBetween size="l">
                <Container header={<Header variant="h2">Training algorithm</Header>}>
                  <FormField errorText={err("algorithm")} description={clone ? "A clone keeps the algorithm of the model it starts from." : undefined}>
                    <Tiles
                      value={algorithm}
                      onChange={(e) => {
                        const algo = e.detail.value as Algorithm;
                        setAlgorithm(algo);
                        setHyper(Object.fromEntries(Object.entries(d.hyperparameters[algo]).map(([k, v]) => [k, String(v)])));
                        if (algo === "sac") setSpaceType("continuous");
                      }}
                      items={d.algorithms.map((a) => ({ value: a.value, label: a.label, description: a.description, disabled: !!clone }))}
                      ariaLabel="Training algorithm"
                    />
                  </FormField>
                </Container>
                <Container>
                  <ExpandableSection headerText="Hyperparameters" variant="footer" defaultExpanded>
                    <ColumnLayout columns={2}>{hyperparameterFields}</ColumnLayout>
                  </ExpandableSection>
                </Container>
              </SpaceBetween>
            ),
          },
          {
            title: "Define action space",
            errorText: step === 3 ? submitError : undefined,
            content: (
              <SpaceBetween size="l">
                <Container header={<Header variant="h2">Action space type</Header>}>
                  <FormField
                    errorText={err("action_space_type")}
                    description={
                      clone ? "A clone keeps the action space of the model it starts from." : algorithm === "sac" ? "SAC trains a continuous action space." : undefined
                    }
                  >
                    <Tiles
                      value={spaceType}
                      onChange={(e) => setSpaceType(e.detail.value as ActionSpaceType)}
                      items={[
                        {
                          value: "discrete",
                          label: "Discrete action space",
                          description: "A list of steering angle and speed pairs the car chooses from.",
                          disabled: algorithm === "sac" || !!clone,
                        },
                        {
                          value: "continuous",
                          label: "Continuous action space",
                          description: "A range of steering angles and a range of speeds.",
                          disabled: !!clone,
                        },
                      ]}
                      ariaLabel="Action space type"
                    />
                  </FormField>
                </Container>
                <Container header={<Header variant="h2">{spaceType === "discrete" ? "Define discrete action space" : "Define continuous action space"}</Header>}>
                  <SpaceBetween size="m">
                    {err("action_space") && <Alert type="error">{err("action_space")}</Alert>}
                    {spaceType === "discrete" ? discreteEditor : continuousEditor}
                  </SpaceBetween>
                </Container>
              </SpaceBetween>
            ),
          },
          {
            title: "Choose the neural network",
            errorText: step === 4 ? submitError : undefined,
            content: (
              <Container header={<Header variant="h2" description="The camera image goes through this network to the policy.">Neural network</Header>}>
                <FormField errorText={err("network")}>
                  <Tiles
                    value={network ?? null}
                    onChange={(e) => setNetwork(e.detail.value)}
                    columns={3}
                    items={d.networks
                      .filter((n) => !n.legacy || n.value === network) // a legacy network only for its clones
                      .map((n) => ({ value: n.value, label: n.label, description: n.description, disabled: n.disabled || !!clone }))}
                    ariaLabel="Neural network"
                  />
                </FormField>
              </Container>
            ),
          },
          {
            title: "Customize reward function",
            errorText: step === 5 ? submitError : undefined,
            content: (
              <SpaceBetween size="l">
                <Container
                  header={
                    <Header
                      variant="h2"
                      description="Python 3: def reward_function(params) returning a float. It runs in the simulator, never in the console's server."
                      actions={
                        <SpaceBetween direction="horizontal" size="xs">
                          <Button onClick={() => setExamplesOpen(true)}>Reward function examples</Button>
                          <Button onClick={() => { setReward(d.reward_functions[0]?.source ?? ""); setValidation(null); }}>Reset</Button>
                          <Button onClick={validate} loading={validating}>Validate</Button>
                        </SpaceBetween>
                      }
                    >
                      Reward function
                    </Header>
                  }
                >
                  <SpaceBetween size="m">
                    <FormField stretch errorText={err("reward_function")}>
                      <RewardEditor value={reward} onChange={(v) => { setReward(v); setValidation(null); }} error={validation?.error} />
                    </FormField>
                    {validation?.ok && <Alert type="success" data-testid="reward-validation">Your reward function passed validation.</Alert>}
                    {validation && !validation.ok && (
                      <Alert type="error" header="Your reward function did not pass validation" data-testid="reward-validation">
                        {validation.error?.line ? `Line ${validation.error.line}: ` : ""}
                        {validation.error?.message}
                      </Alert>
                    )}
                  </SpaceBetween>
                </Container>
                <Container header={<Header variant="h2" description="Training stops when this time is up, or earlier if you stop it.">Stop conditions</Header>}>
                  <SpaceBetween size="m">
                    <FormField label="Maximum time" description="Minutes" constraintText={rangeText(d.max_minutes)} errorText={err("max_minutes")}>
                      <Input type="number" value={maxMinutes} onChange={(e) => setMaxMinutes(e.detail.value)} ariaLabel="Maximum time" />
                    </FormField>
                    <ExpandableSection headerText="Maximum steps (this console's extension)" defaultExpanded={!!maxSteps}>
                      <FormField
                        label={<span>Maximum steps <i>- optional</i></span>}
                        description="Also stop after this many simulator steps: for a quick trial run."
                        constraintText={`At least ${d.max_steps_min}, whole number.`}
                        errorText={err("max_steps")}
                      >
                        <Input type="number" value={maxSteps} onChange={(e) => setMaxSteps(e.detail.value)} ariaLabel="Maximum steps" />
                      </FormField>
                    </ExpandableSection>
                  </SpaceBetween>
                </Container>
              </SpaceBetween>
            ),
          },
        ]}
      />
      <Modal
        visible={examplesOpen}
        onDismiss={() => setExamplesOpen(false)}
        header="Reward function examples"
        size="large"
      >
        <SpaceBetween size="m">
          {d.reward_functions.map((ex) => (
            <Container
              key={ex.name}
              header={
                <Header
                  variant="h3"
                  description={ex.description}
                  actions={
                    <Button onClick={() => { setReward(ex.source); setValidation(null); setExamplesOpen(false); }} ariaLabel={`Use code: ${ex.title}`}>
                      Use code
                    </Button>
                  }
                >
                  {ex.title}
                </Header>
              }
            >
              <Box variant="code">
                <pre style={{ margin: 0, maxHeight: 200, overflow: "auto" }}>{ex.source}</pre>
              </Box>
            </Container>
          ))}
        </SpaceBetween>
      </Modal>
    </>
  );
}
