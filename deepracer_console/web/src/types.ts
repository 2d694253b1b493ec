// Records the console's API returns (deepracer_console/schemas.py; /api/openapi.json). Names
// follow DeepRacer's files (model_metadata.json, hyperparameters.json, evaluation metrics).

export type ModelStatus = "queued" | "initialising" | "training" | "stopping" | "ready" | "failed";
export type Direction = "counterclockwise" | "clockwise";
export type Algorithm = "ppo" | "sac";
export type ActionSpaceType = "discrete" | "continuous";

export interface DiscreteAction {
  steering_angle: number;
  speed: number;
  index?: number;
}

export interface ContinuousActionSpace {
  steering_angle: { low: number; high: number };
  speed: { low: number; high: number };
}

export type ActionSpace = DiscreteAction[] | ContinuousActionSpace;

export type Hyperparameters = Record<string, number | string>;

export interface Track {
  name: string;
  source: string; // builtin or imported
  length_m: number;
  width_m: number;
  waypoints: number;
  description: string;
  directions: Direction[];
  image_url: string;
}

export interface Trial {
  trial: number;
  status: string;
  progress: number;
  lap_time_s: number | null;
  elapsed_s: number;
  off_track: number;
  resets: number;
}

export interface Evaluation {
  id: number;
  model_id: number;
  track: string;
  direction: Direction;
  race_type: string;
  trials_requested: number;
  off_track_penalty_s: number;
  status: string; // queued, running, completed or failed
  failure_reason: string | null;
  trials: Trial[];
  summary: Record<string, unknown> | null;
  video_url: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface Model {
  id: number;
  name: string;
  description: string;
  track: string;
  direction: Direction;
  race_type: string;
  algorithm: Algorithm;
  network: string;
  action_space_type: ActionSpaceType;
  action_space: ActionSpace;
  hyperparameters: Hyperparameters;
  max_minutes: number;
  max_steps: number | null;
  clone_of: number | null;
  source: string; // created, cloned or imported
  status: ModelStatus;
  failure_reason: string | null;
  trained_seconds: number;
  best_progress: number | null;
  best_lap_time_s: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  has_package: boolean;
}

export interface ModelDetail extends Model {
  reward_function: string;
  training_folder: string;
  log_url: string;
  live_url: string;
  package_url: string;
}

export interface MetricsPoint {
  iteration: number;
  episodes: number;
  average_reward: number;
  average_progress: number;
  evaluation_progress: number | null;
  evaluation_laps?: number | null;
  best_lap_time_s?: number | null;
  wall_s?: number | null;
}

export interface Metrics {
  model_id: number;
  status: string;
  iterations: MetricsPoint[];
  episodes_per_iteration: number | null;
  updated_at: number | null;
}

export interface RewardValidation {
  ok: boolean;
  error?: string | null;
  line?: number | null;
}
