// The race type's options, as the DeepRacer console offers them: object avoidance (number of
// objects, fixed positions or randomised, stationary bot cars), head-to-bot (number of bots, speed,
// lane changes with their min/max interval) and the collision penalty (evaluation). Used by the
// Create model wizard and the evaluation form; the server checks every field again (race.<key>).
import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";

export interface RaceOptionsState {
  objects: string;
  positions: string; // "20,inner; 50,outer" (progress %, lane); empty = evenly spaced
  randomizeObjects: boolean;
  obstacleBotCars: boolean;
  bots: string;
  botSpeed: string;
  laneChange: boolean;
  laneMin: string;
  laneMax: string;
  collisionPenalty: string;
}

export const RACE_OPTIONS_DEFAULTS: RaceOptionsState = {
  objects: "3",
  positions: "",
  randomizeObjects: false,
  obstacleBotCars: false,
  bots: "3",
  botSpeed: "0.2",
  laneChange: false,
  laneMin: "3",
  laneMax: "5",
  collisionPenalty: "5",
};

/** A model's or an evaluation's stored options (the API's `race`) as form state. */
export function raceOptionsFrom(race: Record<string, unknown> | undefined): RaceOptionsState {
  const r = race ?? {};
  const text = (key: string, fallback: string) => (r[key] === undefined || r[key] === null ? fallback : String(r[key]));
  const positions = Array.isArray(r.object_positions)
    ? (r.object_positions as [number, string][]).map(([p, lane]) => `${p},${lane}`).join("; ")
    : "";
  return {
    objects: text("objects", RACE_OPTIONS_DEFAULTS.objects),
    positions,
    randomizeObjects: Boolean(r.randomize_objects),
    obstacleBotCars: Boolean(r.obstacle_bot_cars),
    bots: text("bots", RACE_OPTIONS_DEFAULTS.bots),
    botSpeed: text("bot_speed", RACE_OPTIONS_DEFAULTS.botSpeed),
    laneChange: Boolean(r.bot_lane_change),
    laneMin: text("lane_change_min_s", RACE_OPTIONS_DEFAULTS.laneMin),
    laneMax: text("lane_change_max_s", RACE_OPTIONS_DEFAULTS.laneMax),
    collisionPenalty: text("collision_penalty_s", RACE_OPTIONS_DEFAULTS.collisionPenalty),
  };
}

function whole(value: string, low: number, high: number): string | undefined {
  const n = Number(value);
  return Number.isInteger(n) && n >= low && n <= high ? undefined : `Enter a whole number from ${low} to ${high}.`;
}

function within(value: string, low: number, high: number, unit: string): string | undefined {
  const n = Number(value);
  return value.trim() !== "" && Number.isFinite(n) && n >= low && n <= high ? undefined : `Enter ${low}-${high} ${unit}.`;
}

/** The API's `race` object for the race type and the problems found, keyed race.<field>. */
export function raceOptionsPayload(
  raceType: string,
  s: RaceOptionsState,
  withPenalty: boolean,
): { race?: Record<string, unknown>; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const race: Record<string, unknown> = {};
  const set = (key: string, problem: string | undefined, value: unknown) => {
    if (problem) errors[`race.${key}`] = problem;
    else race[key] = value;
  };
  if (raceType === "object_avoidance") {
    if (s.positions.trim()) {
      const pairs = s.positions.split(";").map((p) => p.trim()).filter(Boolean);
      const parsed = pairs.map((p) => p.split(",").map((x) => x.trim()));
      const bad = parsed.find(
        ([p, lane]) => !(Number(p) >= 7 && Number(p) <= 90) || !["inner", "outer"].includes((lane ?? "").toLowerCase()),
      );
      const sorted = parsed.map(([p]) => Number(p)).sort((a, b) => a - b);
      const close = sorted.some((p, i) => i > 0 && p - sorted[i - 1] < 13);
      if (bad || parsed.length > 6) errors["race.object_positions"] = "Up to 6 pairs of progress 7-90 % and inner or outer, e.g. 20,inner; 50,outer.";
      else if (close) errors["race.object_positions"] = "Objects must be at least 13 % of the lap apart.";
      else race.object_positions = parsed.map(([p, lane]) => [Number(p), lane.toLowerCase()]);
    } else {
      set("objects", whole(s.objects, 1, 6), Number(s.objects));
    }
    if (s.randomizeObjects) race.randomize_objects = true;
    if (s.obstacleBotCars) race.obstacle_bot_cars = true;
  } else if (raceType === "head_to_bot") {
    set("bots", whole(s.bots, 1, 6), Number(s.bots));
    set("bot_speed", within(s.botSpeed, 0.2, 6, "m/s"), Number(s.botSpeed));
    if (s.laneChange) {
      race.bot_lane_change = true;
      set("lane_change_min_s", within(s.laneMin, 1, 60, "seconds"), Number(s.laneMin));
      set("lane_change_max_s", within(s.laneMax, 1, 60, "seconds"), Number(s.laneMax));
      if (Number(s.laneMin) > Number(s.laneMax)) errors["race.lane_change_min_s"] = "The shortest interval is longer than the longest.";
    }
  }
  if (withPenalty && raceType !== "time_trial") {
    set("collision_penalty_s", within(s.collisionPenalty, 0, 60, "seconds"), Number(s.collisionPenalty));
  }
  return { race: raceType === "time_trial" ? undefined : race, errors };
}

export default function RaceOptions({
  raceType,
  value,
  onChange,
  errors,
  withPenalty,
}: {
  raceType: string;
  value: RaceOptionsState;
  onChange: (next: RaceOptionsState) => void;
  errors: Record<string, string>;
  withPenalty: boolean;
}) {
  const set = (patch: Partial<RaceOptionsState>) => onChange({ ...value, ...patch });
  const err = (key: string) => errors[`race.${key}`];
  if (raceType === "time_trial") return null;
  const penalty = withPenalty && (
    <FormField label="Collision penalty" description="Seconds added per crash; the car is put back 1 m behind the object." errorText={err("collision_penalty_s")}>
      <Input type="number" value={value.collisionPenalty} onChange={(e) => set({ collisionPenalty: e.detail.value })} ariaLabel="Collision penalty" />
    </FormField>
  );
  if (raceType === "object_avoidance") {
    return (
      <SpaceBetween size="m">
        <ColumnLayout columns={2}>
          <FormField label="Number of objects" description="1-6 boxes, evenly spaced with alternating lanes." errorText={err("objects")}>
            <Input type="number" value={value.objects} disabled={Boolean(value.positions.trim())} onChange={(e) => set({ objects: e.detail.value })} ariaLabel="Number of objects" />
          </FormField>
          <FormField
            label="Object positions (optional)"
            description="Progress % and lane per object, e.g. 20,inner; 50,outer (7-90 %, at least 13 % apart)."
            errorText={err("object_positions")}
          >
            <Input value={value.positions} placeholder="20,inner; 50,outer" onChange={(e) => set({ positions: e.detail.value })} ariaLabel="Object positions" />
          </FormField>
        </ColumnLayout>
        <Checkbox checked={value.randomizeObjects} onChange={(e) => set({ randomizeObjects: e.detail.checked })}>
          Randomize object locations (new positions and lanes every episode)
        </Checkbox>
        <Checkbox checked={value.obstacleBotCars} onChange={(e) => set({ obstacleBotCars: e.detail.checked })}>
          Stationary bot cars instead of boxes
        </Checkbox>
        {penalty}
      </SpaceBetween>
    );
  }
  return (
    <SpaceBetween size="m">
      <ColumnLayout columns={2}>
        <FormField label="Number of bot vehicles" description="1-6 cars driving the lanes." errorText={err("bots")}>
          <Input type="number" value={value.bots} onChange={(e) => set({ bots: e.detail.value })} ariaLabel="Number of bot vehicles" />
        </FormField>
        <FormField label="Bot vehicle speed" description="0.2-6 m/s." errorText={err("bot_speed")}>
          <Input type="number" value={value.botSpeed} onChange={(e) => set({ botSpeed: e.detail.value })} ariaLabel="Bot vehicle speed" />
        </FormField>
      </ColumnLayout>
      <Checkbox checked={value.laneChange} onChange={(e) => set({ laneChange: e.detail.checked })}>
        Enable lane changes
      </Checkbox>
      {value.laneChange && (
        <ColumnLayout columns={2}>
          <FormField label="Minimum time between lane changes" description="Seconds." errorText={err("lane_change_min_s")}>
            <Input type="number" value={value.laneMin} onChange={(e) => set({ laneMin: e.detail.value })} ariaLabel="Minimum time between lane changes" />
          </FormField>
          <FormField label="Maximum time between lane changes" description="Seconds." errorText={err("lane_change_max_s")}>
            <Input type="number" value={value.laneMax} onChange={(e) => set({ laneMax: e.detail.value })} ariaLabel="Maximum time between lane changes" />
          </FormField>
        </ColumnLayout>
      )}
      {penalty}
    </SpaceBetween>
  );
}
