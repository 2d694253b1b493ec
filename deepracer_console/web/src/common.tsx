// Small pieces every page uses: polling, status words, number formats, in-app links.
import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import Link from "@cloudscape-design/components/link";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import { api, messageOf } from "./api";
import type { ModelStatus } from "./types";

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/** GET `path` now and every `intervalMs` (0: once) while the page shows it; no page reload. */
export function usePolled<T>(path: string | null, intervalMs = 0): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!path) return;
    let cancelled = false;
    let timer: number | undefined;
    const load = async () => {
      try {
        const value = await api.get<T>(path);
        if (!cancelled) {
          setData(value);
          setError(undefined);
        }
      } catch (err) {
        if (!cancelled) setError(messageOf(err));
      } finally {
        if (!cancelled) {
          setLoading(false);
          if (intervalMs > 0) timer = window.setTimeout(load, intervalMs);
        }
      }
    };
    load();
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [path, intervalMs, tick]);
  return { data, error, loading, reload };
}

const STATUS: Record<ModelStatus, { type: StatusIndicatorProps.Type; label: string }> = {
  queued: { type: "pending", label: "Queued" },
  initialising: { type: "loading", label: "Initialising" },
  training: { type: "in-progress", label: "Training" },
  stopping: { type: "loading", label: "Stopping" },
  ready: { type: "success", label: "Ready" },
  failed: { type: "error", label: "Failed" },
};

export const ACTIVE_STATUSES: ModelStatus[] = ["queued", "initialising", "training", "stopping"];

export function statusLabel(status: string): string {
  return STATUS[status as ModelStatus]?.label ?? status;
}

export function ModelStatusIndicator({ status, reason }: { status: string; reason?: string | null }) {
  const known = STATUS[status as ModelStatus];
  return (
    <StatusIndicator type={known?.type ?? "info"}>
      {known?.label ?? status}
      {status === "failed" && reason ? `: ${reason}` : ""}
    </StatusIndicator>
  );
}

/** Status of an evaluation job (queued, running, done/completed, failed, stopped). */
export function JobStatusIndicator({ status, reason }: { status: string; reason?: string | null }) {
  const map: Record<string, StatusIndicatorProps.Type> = {
    queued: "pending",
    initialising: "loading",
    running: "in-progress",
    evaluating: "in-progress",
    stopping: "loading",
    completed: "success",
    done: "success",
    ready: "success",
    failed: "error",
    stopped: "stopped",
  };
  return (
    <StatusIndicator type={map[status] ?? "info"}>
      {status.charAt(0).toUpperCase() + status.slice(1)}
      {status === "failed" && reason ? `: ${reason}` : ""}
    </StatusIndicator>
  );
}

export function formatDate(iso?: string | null): string {
  if (!iso) return "-";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A lap time as the console shows it: mm:ss.sss. */
export function formatLapTime(seconds?: number | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return "-";
  const minutes = Math.floor(seconds / 60);
  const rest = seconds - minutes * 60;
  return `${String(minutes).padStart(2, "0")}:${rest.toFixed(3).padStart(6, "0")}`;
}

export function formatPercent(value?: number | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return "-";
  return `${Math.round(value * 10) / 10}%`;
}

export function formatNumber(value: unknown, digits = 2): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return value === undefined || value === null ? "-" : String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(digits).replace(/\.?0+$/, "");
}

/** A Cloudscape link that navigates inside the app without reloading the page. */
export function AppLink({ href, children }: { href: string; children: React.ReactNode }) {
  const navigate = useNavigate();
  return (
    <Link
      href={href}
      onFollow={(event) => {
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </Link>
  );
}

/** Remember the latest value across renders without re-running effects. */
export function useLatest<T>(value: T) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

/** A trial's status as DeepRacer's metrics label it ("lap_complete" -> "Lap complete"). */
export function trialStatusLabel(status: string): string {
  const words = status.replace(/[_-]+/g, " ").trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
