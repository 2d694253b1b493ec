// What GET /api/defaults gives: DeepRacer's defaults and allowed ranges, one source (the
// server) for every number the forms start from or check against. Words are the console's.
import type { Algorithm, DiscreteAction, Hyperparameters } from "./types";

export interface Range {
  min?: number;
  max?: number;
  choices?: (number | string)[];
  integer?: boolean;
  default?: number | string;
}

export interface Option {
  value: string;
  label: string;
  description?: string;
  disabled?: boolean;
  legacy?: boolean; // a network kept for the clones of models trained with it
}

export interface RewardExample {
  name: string;
  title: string;
  description?: string;
  source: string;
}

export interface Defaults {
  name: { pattern: string; max_length: number };
  description: { pattern: string; max_length: number };
  track?: string;
  direction?: string;
  race_types: Option[];
  algorithms: Option[];
  hyperparameters: Record<Algorithm, Hyperparameters>;
  hyperparameter_ranges: Record<Algorithm, Record<string, Range>>;
  discrete: {
    steering_angle_granularity: Range;
    max_steering_angle: Range;
    speed_granularity: Range;
    max_speed: Range;
    actions: Range; // how many rows
    steering_angle: Range; // one row's steering angle
    speed: Range; // one row's speed
  };
  continuous: {
    steering_angle: { low: number; high: number };
    speed: { low: number; high: number };
    steering_low: Range;
    steering_high: Range;
    speed_range: Range;
  };
  networks: Option[];
  neural_network?: string;
  reward_functions: RewardExample[];
  max_minutes: Range;
  max_steps_min: number;
  evaluation: { trials: Range; off_track_penalty: Range };
}

/** Labels of hyperparameters.json keys, as the console words them. */
export const HYPERPARAMETER_LABELS: Record<string, string> = {
  batch_size: "Gradient descent batch size",
  num_epochs: "Number of epochs",
  lr: "Learning rate",
  beta_entropy: "Entropy",
  sac_alpha: "SAC alpha (α) value",
  discount_factor: "Discount factor",
  loss_type: "Loss type",
  num_episodes_between_training: "Number of experience episodes between each policy-updating iteration",
};

export const LOSS_TYPE_LABELS: Record<string, string> = {
  huber: "Huber",
  "mean squared error": "Mean squared error",
  mean_squared_error: "Mean squared error",
};

/** DeepRacer's discrete builder: steering evenly over [−max, +max] × speeds max·k/n, k = 1…n. */
export function buildDiscrete(steeringLevels: number, maxSteering: number, speedLevels: number, maxSpeed: number): DiscreteAction[] {
  const actions: DiscreteAction[] = [];
  for (let i = 0; i < steeringLevels; i++) {
    const angle = steeringLevels === 1 ? 0 : -maxSteering + (2 * maxSteering * i) / (steeringLevels - 1);
    for (let k = 1; k <= speedLevels; k++) {
      actions.push({ steering_angle: Math.round(angle * 10) / 10, speed: Math.round(((maxSpeed * k) / speedLevels) * 100) / 100 });
    }
  }
  return actions;
}

export function rangeText(range?: Range): string {
  if (!range) return "";
  if (range.choices) return `One of ${range.choices.join(", ")}`;
  if (range.min !== undefined && range.max !== undefined) return `${range.min} to ${range.max}${range.integer ? ", integer" : ""}`;
  if (range.min !== undefined) return `At least ${range.min}`;
  if (range.max !== undefined) return `At most ${range.max}`;
  return "";
}

/** null when `value` fits `range`, else the reason (the server checks it again). */
export function checkRange(value: number, range?: Range): string | null {
  if (!Number.isFinite(value)) return "Enter a number.";
  if (!range) return null;
  if (range.choices && !range.choices.includes(value)) return `Must be one of ${range.choices.join(", ")}.`;
  if (range.integer && !Number.isInteger(value)) return "Must be a whole number.";
  if (range.min !== undefined && value < range.min) return `Must be at least ${range.min}.`;
  if (range.max !== undefined && value > range.max) return `Must be at most ${range.max}.`;
  return null;
}

const RACE_TYPE_LABELS: Record<string, { label: string; description: string }> = {
  time_trial: { label: "Time trial", description: "Race against the clock on an unobstructed track." },
  object_avoidance: { label: "Object avoidance", description: "Race against the clock avoiding fixed obstacles on the track." },
  head_to_bot: { label: "Head-to-bot", description: "Race against other vehicles on the track." },
};

const ALGORITHM_LABELS: Record<string, { label: string; description: string }> = {
  ppo: { label: "PPO", description: "Proximal Policy Optimization: a stable, on-policy algorithm; discrete or continuous actions." },
  sac: { label: "SAC", description: "Soft Actor Critic: an off-policy algorithm that explores widely; continuous actions only." },
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pair = (v: unknown): Range => (Array.isArray(v) ? { min: Number(v[0]), max: Number(v[1]) } : ((v as Range) ?? {}));

/** GET /api/defaults as the server words it -> the shape the forms use. */
export function normalizeDefaults(raw: Json): Defaults {
  const options = (list: unknown, labels: Record<string, { label: string; description: string }>): Option[] =>
    ((list as unknown[]) ?? []).map((item) => {
      const value = typeof item === "string" ? item : String((item as Json).name ?? (item as Json).value);
      return { value, label: labels[value]?.label ?? value, description: labels[value]?.description };
    });
  const strip = (p: string | undefined, fallback: string) => (p ?? fallback).replace(/^\^/, "").replace(/\$$/, "");
  const maxLen = (p: string, fallback: number) => Number(/\{\d+,(\d+)\}/.exec(p)?.[1] ?? fallback);
  const namePattern = strip(raw.name_pattern, "[a-zA-Z0-9-]{1,64}");
  const descriptionPattern = strip(raw.description_pattern, "[a-zA-Z0-9- ]{0,255}");
  const builder = raw.discrete_builder ?? {};
  const actions = raw.discrete_actions ?? {};
  const continuous = raw.continuous ?? {};
  const ranges: Record<string, Range> = raw.hyperparameter_ranges ?? {};
  const shown = Object.keys(HYPERPARAMETER_LABELS);
  const rangesFor = (algo: Algorithm): Record<string, Range> => {
    const out: Record<string, Range> = {};
    for (const key of shown) {
      if (!(key in (raw.hyperparameters?.[algo] ?? {})) || !(key in ranges)) continue;
      out[key] = ranges[key];
      // SAC collects one episode per iteration, as in DeepRacer (a fixed field)
      if (algo === "sac" && key === "num_episodes_between_training") out[key] = { choices: [1] };
    }
    return out;
  };
  const trials = raw.evaluation?.trials ?? {};
  return {
    name: { pattern: namePattern, max_length: maxLen(namePattern, 64) },
    description: { pattern: descriptionPattern, max_length: maxLen(descriptionPattern, 255) },
    track: raw.track,
    direction: raw.direction,
    race_types: options(raw.race_types, RACE_TYPE_LABELS),
    algorithms: options(raw.algorithms, ALGORITHM_LABELS),
    hyperparameters: raw.hyperparameters,
    hyperparameter_ranges: { ppo: rangesFor("ppo"), sac: rangesFor("sac") },
    discrete: {
      steering_angle_granularity: builder.steering_angle_granularity ?? { choices: [3, 5, 7], default: 5 },
      max_steering_angle: builder.maximum_steering_angle ?? builder.max_steering_angle ?? { min: 1, max: 30, default: 30 },
      speed_granularity: builder.speed_granularity ?? { choices: [1, 2, 3], default: 2 },
      max_speed: builder.maximum_speed ?? builder.max_speed ?? { min: 0.1, max: 4, default: 1 },
      actions: { min: actions.min_actions ?? 2, max: actions.max_actions ?? 30, integer: true },
      steering_angle: pair(actions.steering_angle ?? [-30, 30]),
      speed: pair(actions.speed ?? [0.1, 4]),
    },
    continuous: {
      steering_angle: continuous.default?.steering_angle ?? { low: -10, high: 10 },
      speed: continuous.default?.speed ?? { low: 1, high: 2 },
      steering_low: pair(continuous.steering_low ?? [-30, 0]),
      steering_high: pair(continuous.steering_high ?? [0, 30]),
      speed_range: pair(continuous.speed ?? [0.5, 4]),
    },
    networks: ((raw.networks as Json[]) ?? []).map((n) => ({
      value: String(n.name),
      label: String(n.label ?? n.name),
      description: n.available === false ? `Not available: ${n.reason ?? "not built yet"}` : n.neural_network,
      disabled: n.available === false,
      legacy: n.legacy === true,
    })),
    neural_network: raw.network,
    reward_functions: ((raw.reward_examples as Json[]) ?? [])
      .map((r) => ({ name: String(r.name), title: String(r.title ?? r.name), description: r.description, source: String(r.source) }))
      // the default example first: the editor starts from it
      .sort((a, b) => Number(b.name === raw.reward_example) - Number(a.name === raw.reward_example)),
    max_minutes: { min: raw.max_minutes?.min ?? 10, max: raw.max_minutes?.max ?? 1440, default: raw.max_minutes?.default ?? 10, integer: true },
    max_steps_min: Number(raw.max_steps?.min ?? 1),
    evaluation: {
      trials: { min: trials.min ?? 1, max: trials.max ?? 20, default: trials.default ?? 3, integer: true },
      off_track_penalty: raw.evaluation?.off_track_penalty_s ?? raw.evaluation?.off_track_penalty ?? { min: 0, max: 60, default: 3 },
    },
  };
}
