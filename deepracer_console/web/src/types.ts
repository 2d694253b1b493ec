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
  race?: Record<string, unknown>; // the race type's options
  status: string; // queued, running, completed or failed
  failure_reason: string | null;
  trials: Trial[];
  summary: Record<string, unknown> | null;
  video_url: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface Model {
  owner_id?: number | null; // the owner's user id (null: single-user mode / imported before accounts)
  owner?: string | null; // the owner's username
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
  race?: Record<string, unknown>; // the race type's options it trains with
  sensor?: string[]; // DeepRacer's sensor list
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

// -- accounts, races (docs/event-server.md) ----------------------------------------------------------
export type Role = "racer" | "race_facilitator" | "admin";

export interface User {
  id: number | null; // null: single-user mode's "local"
  username: string;
  role: Role;
  paused: boolean;
}

export interface Me {
  logged_in: boolean;
  single_user: boolean;
  user: User | null;
  csrf_token?: string | null;
}

export interface LoginResult {
  user: User;
  csrf_token: string;
}

export type QuotaKind = "training_minutes_per_month" | "evaluation_minutes_per_month" | "concurrent_jobs" | "models" | "storage_mb";

export interface Quota {
  user_id: number;
  month: string; // YYYY-MM of the minutes
  limits: Record<QuotaKind, number>; // in force (-1: unlimited)
  overrides: Record<QuotaKind, number | null>; // the user's own; null: the default applies
  defaults: Record<QuotaKind, number>;
  usage: Record<QuotaKind, number>;
}

export interface QuotaDefaults {
  limits: Record<QuotaKind, number>;
  builtin: Record<QuotaKind, number>;
}

export interface QuotaUsage {
  month: string;
  defaults: Record<QuotaKind, number>;
  users: { user_id: number; username: string; role: Role; paused: boolean; limits: Record<QuotaKind, number>; usage: Record<QuotaKind, number> }[];
}

export type Ranking = "TOTAL_TIME" | "AVG_LAP_TIME" | "BEST_LAP_TIME";

export interface Race {
  id: number;
  name: string;
  track: string;
  direction: Direction;
  race_type: string;
  opens_at: string;
  closes_at: string;
  ranking: Ranking;
  minimum_laps: number;
  laps: number;
  off_track_penalty_s: number;
  resets: number;
  submissions_per_day: number;
  private: boolean;
  is_open: boolean;
  invite_link: string | null;
  physical?: boolean; // a physical race: timed on a real track by the timekeeper
  race_time_s?: number;
}

export interface RaceLap {
  time_ms: number;
  completed: boolean;
  off_track: number;
  invalid?: boolean; // physical races: invalidated by the timekeeper (or a DNF)
}

export interface LeaderboardEntry {
  rank: number;
  racer: string;
  score_ms: number;
  gap_ms: number;
  submission_id: number;
  submitted_at: string;
  laps: RaceLap[];
  video_url: string | null;
}

export interface Leaderboard {
  race_id: number;
  ranking: Ranking;
  minimum_laps: number;
  pending: number;
  entries: LeaderboardEntry[];
}

export interface Submission {
  id: number;
  race_id: number;
  model_id: number | null;
  evaluation_id: number | null;
  racer: string;
  status: string;
  created_at: string;
  score_ms?: number | null; // GET /api/races/{id}/submissions: the ranked score once evaluated
  laps?: { time_ms: number; completed: boolean; off_track: number }[];
  video_url?: string | null;
}

// -- physical races: the timekeeper (docs/event-server.md "Physical races") ---------------------------
export type AttemptState = "ready_to_start" | "running" | "paused" | "race_is_over";
export type TimekeeperAction = "start" | "pause" | "resume" | "end" | "lap" | "dnf" | "off_track" | "reset" | "invalidate" | "undo";

export interface QueueEntry {
  id: number;
  race_id: number;
  position: number;
  user_id: number;
  racer: string;
  model_id: number | null;
  model_name: string | null;
}

export interface AttemptLap {
  lap_id: number;
  time_ms: number;
  resets: number;
  off_tracks: number;
  is_valid: boolean;
  auto_timer: boolean;
}

export interface Attempt {
  id: number;
  race_id: number;
  racer: string;
  user_id: number | null;
  model_id: number | null;
  car_id: number | null;
  state: AttemptState;
  race_time_ms: number;
  resets_per_lap: number;
  elapsed_ms: number;
  time_left_ms: number;
  current_lap_ms: number;
  resets: number;
  off_tracks: number;
  laps: AttemptLap[];
  score_ms: number | null;
  summary: {
    fastest_lap_ms: number | null;
    fastest_average_ms: number | null;
    average_lap_ms: number | null;
    valid_laps: number;
    invalid_laps: number;
    most_consecutive_laps: number;
  };
  last_event: { seq: number; action: string; source: string; lap_id: number | null } | null;
  server_time_ms: number;
  created_at: string;
  ended_at: string | null;
}

export interface Timekeeper {
  race_id: number;
  name: string;
  ranking: Ranking;
  minimum_laps: number;
  race_time_ms: number;
  resets_per_lap: number;
  off_track_penalty_s: number;
  timer_configured: boolean;
  attempt: Attempt | null;
  queue: QueueEntry[];
}

export interface Car {
  id: number;
  name: string;
  address: string;
  token_hint: string;
  created_at: string;
}
