// What the race pages share: DeepRacer's words for the ranking rules, times in ms, the
// leaderboard table with each entry's laps and video.
import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal from "@cloudscape-design/components/modal";
import Table from "@cloudscape-design/components/table";
import type { Leaderboard, LeaderboardEntry, Race, Ranking } from "../types";

export const RANKING_LABELS: Record<Ranking, string> = {
  TOTAL_TIME: "Total time of N laps",
  AVG_LAP_TIME: "Average of N consecutive laps",
  BEST_LAP_TIME: "Best lap time",
};

export const RACE_TYPE_LABELS: Record<string, string> = {
  time_trial: "Time trial",
  object_avoidance: "Object avoidance",
  head_to_bot: "Head-to-bot",
};

export function rankingText(race: Pick<Race, "ranking" | "minimum_laps">): string {
  if (race.ranking === "TOTAL_TIME") return `Total time of ${race.minimum_laps} laps`;
  if (race.ranking === "AVG_LAP_TIME") return `Average of ${race.minimum_laps} consecutive laps`;
  return "Best lap time";
}

/** ms as mm:ss.sss. */
export function formatMs(ms?: number | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return "-";
  const minutes = Math.floor(ms / 60000);
  const seconds = (ms - minutes * 60000) / 1000;
  return `${String(minutes).padStart(2, "0")}:${seconds.toFixed(3).padStart(6, "0")}`;
}

/** The gap to the first place: "+1.234 s" (the leader: "-"). */
export function formatGap(ms: number): string {
  return ms > 0 ? `+${(ms / 1000).toFixed(3)} s` : "-";
}

/** Adds ?invite= (a private race's token) to an API path. */
export function withInvite(path: string, invite?: string | null): string {
  if (!invite) return path;
  return `${path}${path.includes("?") ? "&" : "?"}invite=${encodeURIComponent(invite)}`;
}

export function lapsText(entry: LeaderboardEntry): string {
  if (!entry.laps.length) return "-";
  return entry.laps
    .map((lap) => `${formatMs(lap.time_ms)}${lap.completed ? "" : lap.invalid ? " (invalid)" : " (not completed)"}${lap.off_track ? ` · ${lap.off_track} off track` : ""}`)
    .join(", ");
}

export function VideoModal({ title, url, onClose }: { title: string; url: string; onClose: () => void }) {
  return (
    <Modal visible onDismiss={onClose} header={title} size="large">
      <video data-testid="entry-video" src={url} controls autoPlay muted style={{ width: "100%", background: "#000" }} />
    </Modal>
  );
}

export function LeaderboardTable({
  board,
  me,
  invite,
  loading,
}: {
  board?: Leaderboard;
  me?: string;
  invite?: string | null;
  loading?: boolean;
}) {
  const [video, setVideo] = useState<LeaderboardEntry>();
  return (
    <>
      <Table
        data-testid="leaderboard"
        variant="embedded"
        items={board?.entries ?? []}
        loading={loading && !board}
        loadingText="Loading the leaderboard"
        wrapLines
        empty={
          <Box textAlign="center" color="inherit">
            <b>No ranked entries yet</b>
            <Box variant="p" color="inherit">
              {board?.pending ? `${board.pending} submission(s) are being evaluated.` : "Submit a model to take the first place."}
            </Box>
          </Box>
        }
        columnDefinitions={[
          { id: "rank", header: "Rank", cell: (e) => (e.racer === me ? <b>{e.rank}</b> : e.rank), width: 80 },
          { id: "racer", header: "Racer", cell: (e) => (e.racer === me ? <b>{e.racer} (you)</b> : e.racer) },
          { id: "score", header: "Score", cell: (e) => formatMs(e.score_ms) },
          { id: "gap", header: "Gap", cell: (e) => formatGap(e.gap_ms) },
          { id: "laps", header: "Lap times", cell: lapsText },
          {
            id: "video",
            header: "Video",
            cell: (e) =>
              e.video_url ? (
                <Button variant="inline-link" iconName="caret-right-filled" ariaLabel={`Video of ${e.racer}'s run`} onClick={() => setVideo(e)}>
                  Watch
                </Button>
              ) : (
                "-"
              ),
          },
        ]}
      />
      {video?.video_url && (
        <VideoModal title={`${video.racer}: rank ${video.rank}, ${formatMs(video.score_ms)}`} url={withInvite(video.video_url, invite)} onClose={() => setVideo(undefined)} />
      )}
    </>
  );
}

// Private races this browser opened with an invite link, so the races list can show them again.
const INVITES_KEY = "deepracer-race-invites";

export function rememberedInvites(): Record<string, string> {
  try {
    const value = JSON.parse(window.localStorage.getItem(INVITES_KEY) ?? "{}");
    return value && typeof value === "object" ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export function rememberInvite(raceId: number, invite: string): void {
  const all = rememberedInvites();
  if (all[String(raceId)] === invite) return;
  all[String(raceId)] = invite;
  window.localStorage.setItem(INVITES_KEY, JSON.stringify(all));
}
