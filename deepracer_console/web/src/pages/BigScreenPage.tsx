// The big screen of an event (/races/:id/big-screen): the leaderboard in large type, refreshing
// by itself, and the latest run's video on a loop. No navigation, no login for a public race
// (a private one: ?invite=TOKEN).
import { useEffect, useMemo, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";
import { usePolled } from "../common";
import { formatGap, formatMs, rankingText, withInvite } from "../components/RaceParts";
import type { Leaderboard, Race } from "../types";

export const BIG_SCREEN_REFRESH_MS = 5000;

const page: React.CSSProperties = {
  minHeight: "100vh",
  background: "#0f1b2a",
  color: "#ffffff",
  fontFamily: "'Amazon Ember', 'Helvetica Neue', Roboto, Arial, sans-serif",
  padding: "2vw 3vw",
  boxSizing: "border-box",
};
const cell: React.CSSProperties = { padding: "0.6vw 1vw", borderBottom: "1px solid #2a3f58", textAlign: "left" };

function Clock() {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  return <span>{now.toLocaleTimeString()}</span>;
}

export default function BigScreenPage() {
  const { id } = useParams();
  const [params] = useSearchParams();
  const invite = params.get("invite");
  const race = usePolled<Race>(withInvite(`/api/races/${id}`, invite), 60000);
  const board = usePolled<Leaderboard>(withInvite(`/api/races/${id}/leaderboard`, invite), BIG_SCREEN_REFRESH_MS);
  const [updated, setUpdated] = useState<Date>();
  useEffect(() => {
    if (board.data) setUpdated(new Date());
  }, [board.data]);

  const latest = useMemo(() => {
    const withVideo = (board.data?.entries ?? []).filter((e) => e.video_url);
    return withVideo.sort((a, b) => b.submitted_at.localeCompare(a.submitted_at))[0];
  }, [board.data]);

  useEffect(() => {
    document.title = race.data ? `${race.data.name} · leaderboard` : "Leaderboard";
  }, [race.data]);

  if (race.error && !race.data) {
    return (
      <div style={page} data-testid="big-screen">
        <h1 style={{ fontSize: "4vw" }}>No such race</h1>
        <p style={{ fontSize: "2vw" }}>{race.error}</p>
      </div>
    );
  }
  const entries = board.data?.entries ?? [];
  return (
    <div style={page} data-testid="big-screen">
      <div style={{ display: "flex", justifyContent: "space-between", alignItems: "baseline" }}>
        <h1 style={{ fontSize: "4.5vw", margin: 0 }}>{race.data?.name ?? "…"}</h1>
        <div style={{ fontSize: "2vw", color: "#8ea4bd" }}>
          <Clock />
        </div>
      </div>
      {race.data && (
        <div style={{ fontSize: "1.8vw", color: "#8ea4bd", marginBottom: "1.5vw" }}>
          {rankingText(race.data)} · {race.data.track}
          {board.data && board.data.pending > 0 ? ` · ${board.data.pending} run(s) being evaluated` : ""}
        </div>
      )}
      <div style={{ display: "flex", gap: "3vw", alignItems: "flex-start" }}>
        <table style={{ flex: 3, borderCollapse: "collapse", fontSize: "2.6vw" }} data-testid="big-leaderboard">
          <thead>
            <tr style={{ color: "#8ea4bd", fontSize: "1.6vw" }}>
              <th style={cell}>Rank</th>
              <th style={cell}>Racer</th>
              <th style={cell}>Time</th>
              <th style={cell}>Gap</th>
            </tr>
          </thead>
          <tbody>
            {entries.length === 0 && (
              <tr>
                <td style={cell} colSpan={4}>
                  No ranked runs yet.
                </td>
              </tr>
            )}
            {entries.slice(0, 12).map((e) => (
              <tr key={e.submission_id} style={{ color: e.rank === 1 ? "#ffd700" : undefined }}>
                <td style={cell}>{e.rank}</td>
                <td style={cell}>{e.racer}</td>
                <td style={{ ...cell, fontVariantNumeric: "tabular-nums" }}>{formatMs(e.score_ms)}</td>
                <td style={{ ...cell, fontVariantNumeric: "tabular-nums" }}>{formatGap(e.gap_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div style={{ flex: 2 }}>
          {latest?.video_url ? (
            <>
              <div style={{ fontSize: "1.8vw", color: "#8ea4bd", marginBottom: "0.5vw" }} data-testid="latest-run">
                Latest run: {latest.racer} · {formatMs(latest.score_ms)}
              </div>
              <video
                key={latest.video_url}
                data-testid="latest-video"
                src={withInvite(latest.video_url, invite)}
                autoPlay
                muted
                loop
                playsInline
                style={{ width: "100%", borderRadius: 8, background: "#000" }}
              />
            </>
          ) : (
            <div style={{ fontSize: "1.8vw", color: "#8ea4bd" }}>The latest run's video shows here.</div>
          )}
        </div>
      </div>
      <div style={{ fontSize: "1.2vw", color: "#5f7a96", marginTop: "2vw" }} data-testid="big-screen-updated">
        {board.error ? `Not refreshed: ${board.error}` : updated ? `Updated ${updated.toLocaleTimeString()} · refreshes every ${BIG_SCREEN_REFRESH_MS / 1000} s` : "Loading…"}
      </div>
    </div>
  );
}
